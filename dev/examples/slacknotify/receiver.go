package slacknotify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flowstate/flowstate/dev/examples/internal/effects"
)

// Receiver is a local stand-in for a Slack incoming webhook: it answers "ok" and keeps the text
// of every message posted to it, so that the demo shows what Slack would have received.
type Receiver struct {
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	messages []string
}

// StartReceiver listens on 127.0.0.1 at a free port.
func StartReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the local Slack receiver: %w", err)
	}
	r := &Receiver{ln: ln}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is the webhook URL to give the hook's secret.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() + "/services/local/demo" }

// Messages returns the text of the messages received, oldest first.
func (r *Receiver) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	text, err := messageText(body)
	if err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.messages = append(r.messages, text)
	r.mu.Unlock()
	effects.Printf(Name, "Slack message received by the local receiver:\n%s", indent(text))
	_, _ = io.WriteString(w, "ok")
}

// messageText returns the text of a webhook message: its text (the fallback Slack shows in
// notifications), else the text of its attachments' sections.
func messageText(body []byte) (string, error) {
	var msg struct {
		Text        string `json:"text"`
		Attachments []struct {
			Fallback string `json:"fallback"`
			Blocks   []struct {
				Text *struct {
					Text string `json:"text"`
				} `json:"text"`
			} `json:"blocks"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return "", err
	}
	var parts []string
	for _, a := range msg.Attachments {
		for _, b := range a.Blocks {
			if b.Text != nil && b.Text.Text != "" {
				parts = append(parts, b.Text.Text)
			}
		}
	}
	switch {
	case msg.Text != "":
		return msg.Text, nil
	case len(parts) > 0:
		return strings.Join(parts, "\n"), nil
	}
	return "", errors.New("empty message")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
