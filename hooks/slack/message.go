package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/flowstate/flowstate/hooks"
)

// DefaultTemplate is the text of the default message, Prefect's seed example with the state's
// message filled in. It is executed with a Data.
const DefaultTemplate = `Your {{if eq .Kind "task"}}task {{.Name}} of flow run {{.WorkflowID}}{{else}}job {{.Name}}{{end}} entered {{.State}}` +
	`{{if .Message}} with message:

{{.Message}}{{else}}.{{end}}

See {{.Link}}

Tags: {{.TagList}}{{if .ScheduledStart}}

Scheduled start: {{.ScheduledStart}}{{end}}`

// LinkText is the text of the link to the run in the Temporal Web UI.
const LinkText = "the flow run in the UI"

// Limits on the escaped text of user values, so that a message stays within Slack's limits
// (3000 characters for a section's text, 2000 for a field).
const (
	maxName    = 256
	maxMessage = 2000
	maxTag     = 100
	maxValue   = 300
	maxJSON    = 1000
)

var defaultTemplate = template.Must(parseTemplate(DefaultTemplate))

var templateFuncs = template.FuncMap{
	// escape escapes a value for Slack mrkdwn.
	"escape": Escape,
	// join joins strings with a separator.
	"join": strings.Join,
}

// Data is what a message template is executed with. Every string that comes from users (run
// and task names, state messages, tags, parameters, run data) is already escaped for Slack mrkdwn
// with Escape; the template adds Slack syntax of its own as it likes.
type Data struct {
	// Kind is "flow" for a flow hook and "task" for a task hook.
	Kind hooks.Kind
	// Event is the hook's event: on_failure, on_completion, …
	Event hooks.Event
	// Hook is the hook's registered name.
	Hook string
	// Name is what the message calls the run: the flow run's name, or the task run's ID
	// ("fetch#2").
	Name string
	// FlowName is the flow's name. Empty for a task hook: hooks.TaskCall does not carry it.
	FlowName string
	// TaskName is the task's name. Empty for a flow hook.
	TaskName string
	// WorkflowID and RunID identify the flow run: the run itself, or the flow run that called
	// the task.
	WorkflowID string
	RunID      string
	// Namespace is the Temporal namespace of the link.
	Namespace string
	// State is the state's name (Failed, TimedOut, Completed, …) and StateType its type (FAILED).
	State     string
	StateType hooks.StateType
	// Message is the state's message: the error text of a failure. Empty when the state has none.
	Message string
	// ErrorType is the type of the error that failed or crashed the run, when it has one worth
	// showing: an application error's type (temporal.NewApplicationError(msg, "PaymentDeclined"))
	// or an error type of the user's. Empty for Go's anonymous errors (errors.New, fmt.Errorf:
	// "*errors.errorString", "*fmt.wrapError"), whose type tells a reader nothing. See
	// ReadableErrorType.
	ErrorType string
	// Attempt is the attempt the state belongs to, from 1; 0 when not known.
	Attempt int
	// Tags are the run's tags (the task's tags for a task run), and TagList the same joined by
	// ", ", or "none".
	Tags    []string
	TagList string
	// URL is the run's page in the Temporal Web UI (see RunURL), escaped for use inside a link,
	// and Link the whole link: <URL|the flow run in the UI>.
	URL  string
	Link string
	// ScheduledStart is the flow run's expected start time, RFC 3339 in UTC. Empty for a task.
	ScheduledStart string
	// Time is when the run entered the state, RFC 3339 in UTC.
	Time string
	// Params are the run's top-level parameters by name, each as text: a string as it is, any
	// other value as JSON. Empty when the input is not a JSON object.
	Params map[string]string
	// Parameters is the run's whole input as JSON.
	Parameters string
	// RunData is what the flow attached to the run (adapter.SetRunData), each value as JSON.
	// Empty for a task.
	RunData map[string]string
}

// Message is what the hook posts.
type Message struct {
	// Text is the message text: DefaultTemplate, or Config.Template, executed with the call's
	// Data. Slack shows it in notifications, and in the channel when the message has no blocks.
	Text string
	// Blocks are the top-level Block Kit blocks of the default layout: one section that says
	// which run entered which state. Nil with a Config.Template.
	Blocks []slackapi.Block
	// Attachments hold one attachment whose colour tells the state (see StateColor), with blocks
	// for the state's message, the run's details and the link to the UI. Nil with a
	// Config.Template.
	Attachments []slackapi.Attachment
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape escapes s for Slack mrkdwn: & as &amp;, < as &lt; and > as &gt;. Slack then shows s as
// it is: a run named "<!channel>" cannot notify a channel, nor "<https://evil|click>" forge a link.
func Escape(s string) string { return mrkdwnEscaper.Replace(s) }

// escapeLimit escapes s and cuts it, on a character boundary, so that the result has at most
// max characters, the last of them "…" when something was cut. An entity (&amp;) is never cut.
func escapeLimit(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if e := Escape(s); utf8.RuneCountInString(e) <= max {
		return e
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		piece := Escape(string(r))
		if w := utf8.RuneCountInString(piece); n+w <= max-1 {
			b.WriteString(piece)
			n += w
			continue
		}
		break
	}
	b.WriteString("…")
	return b.String()
}

// RunURL returns the page of a workflow run in the Temporal Web UI:
// <base>/namespaces/<namespace>/workflows/<workflow ID>/<run ID>/history, each part path-escaped.
// An empty base means DefaultUIBaseURL, an empty namespace DefaultNamespace. Without a run ID the
// URL ends at the workflow ID.
func RunURL(base, namespace, workflowID, runID string) string {
	if base == "" {
		base = DefaultUIBaseURL
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	u := strings.TrimRight(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID) + "/history"
	}
	return u
}

// linkURL escapes a URL for use inside <…|…>: mrkdwn escaping, and | (which would end the URL)
// percent-encoded.
func linkURL(u string) string {
	return strings.ReplaceAll(Escape(u), "|", "%7C")
}

// StateColor returns the colour of the message's attachment for a state of type t: green for
// COMPLETED, red for FAILED, orange for CRASHED, blue for RUNNING, grey for CANCELLING and
// CANCELLED, yellow for the others.
func StateColor(t hooks.StateType) string {
	switch t {
	case hooks.Completed:
		return "#2EB67D"
	case hooks.Failed:
		return "#E01E5A"
	case hooks.Crashed:
		return "#F2711C"
	case hooks.Running:
		return "#36C5F0"
	case hooks.Cancelling, hooks.Cancelled:
		return "#9E9E9E"
	}
	return "#ECB22E"
}

// FlowMessage returns the message a flow hook configured with cfg posts for call. The link's
// namespace is the run's, else cfg.Namespace, else "default".
func FlowMessage(cfg Config, call hooks.FlowCall) (Message, error) {
	return buildMessage(cfg, flowData(cfg, call, ""))
}

// TaskMessage returns the message a task hook configured with cfg posts for call. The link's
// namespace is cfg.Namespace, else "default" (a hook call that runs as an activity uses its
// workflow's namespace instead).
func TaskMessage(cfg Config, call hooks.TaskCall) (Message, error) {
	return buildMessage(cfg, taskData(cfg, call, ""))
}

func pickNamespace(fromRun, fromActivity string, cfg Config) string {
	for _, ns := range []string{fromRun, fromActivity, cfg.Namespace} {
		if ns != "" {
			return ns
		}
	}
	return DefaultNamespace
}

func flowData(cfg Config, call hooks.FlowCall, activityNamespace string) Data {
	run := call.Run
	name := run.Name
	if name == "" {
		name = run.ID
	}
	tags := run.Tags
	if len(tags) == 0 {
		tags = call.Flow.Tags
	}
	flowName := call.Flow.Name
	if flowName == "" {
		flowName = run.FlowName
	}
	ns := pickNamespace(run.Namespace, activityNamespace, cfg)
	d := Data{
		Kind:       hooks.KindFlow,
		Name:       escapeLimit(name, maxName),
		FlowName:   escapeLimit(flowName, maxName),
		WorkflowID: escapeLimit(run.ID, maxName),
		RunID:      escapeLimit(run.RunID, maxName),
		Namespace:  escapeLimit(ns, maxName),
		Params:     params(run.Parameters),
		Parameters: escapeLimit(string(compactJSON(run.Parameters)), maxJSON),
	}
	if !run.ExpectedStartTime.IsZero() {
		d.ScheduledStart = run.ExpectedStartTime.UTC().Format(time.RFC3339)
	}
	if len(run.Data) > 0 {
		d.RunData = make(map[string]string, len(run.Data))
		for k, v := range run.Data {
			d.RunData[k] = escapeLimit(string(compactJSON(v)), maxValue)
		}
	}
	fillCommon(&d, cfg, call.Hook, call.State, tags, run.ID, run.RunID, ns)
	return d
}

func taskData(cfg Config, call hooks.TaskCall, activityNamespace string) Data {
	run := call.Run
	taskName := run.TaskName
	if taskName == "" {
		taskName = call.Task.Name
	}
	name := run.ID
	if name == "" {
		name = taskName
	}
	tags := run.Tags
	if len(tags) == 0 {
		tags = call.Task.Tags
	}
	ns := pickNamespace(run.Namespace, activityNamespace, cfg)
	d := Data{
		Kind:       hooks.KindTask,
		Name:       escapeLimit(name, maxName),
		TaskName:   escapeLimit(taskName, maxName),
		WorkflowID: escapeLimit(run.FlowRunID, maxName),
		RunID:      escapeLimit(run.FlowRunRunID, maxName),
		Namespace:  escapeLimit(ns, maxName),
		Params:     params(run.Parameters),
		Parameters: escapeLimit(string(compactJSON(run.Parameters)), maxJSON),
	}
	fillCommon(&d, cfg, call.Hook, call.State, tags, run.FlowRunID, run.FlowRunRunID, ns)
	return d
}

func fillCommon(d *Data, cfg Config, info hooks.CallInfo, st hooks.State, tags []string, workflowID, runID, ns string) {
	d.Event = info.Event
	d.Hook = escapeLimit(info.Name, maxName)
	d.State = escapeLimit(st.Name, maxName)
	if d.State == "" {
		d.State = st.Type.DefaultName()
	}
	d.StateType = st.Type
	d.Message = escapeLimit(st.Message, maxMessage)
	d.ErrorType = escapeLimit(ReadableErrorType(st.ErrorType), maxName)
	d.Attempt = st.Attempt
	for _, t := range tags {
		d.Tags = append(d.Tags, escapeLimit(t, maxTag))
	}
	d.TagList = "none"
	if len(d.Tags) > 0 {
		d.TagList = strings.Join(d.Tags, ", ")
	}
	d.URL = linkURL(RunURL(cfg.uiBaseURL(), ns, workflowID, runID))
	d.Link = "<" + d.URL + "|" + LinkText + ">"
	if !st.Timestamp.IsZero() {
		d.Time = st.Timestamp.UTC().Format(time.RFC3339)
	}
}

// ReadableErrorType returns the error type a message shows for a state's ErrorType: the type
// without a leading '*', or "" when it names an unexported Go type, as the errors of errors.New
// and fmt.Errorf do (*errors.errorString, *fmt.wrapError, *errors.joinError).
func ReadableErrorType(t string) string {
	t = strings.TrimLeft(t, "*")
	name := t[strings.LastIndex(t, ".")+1:]
	if r, _ := utf8.DecodeRuneInString(name); name == "" || unicode.IsLower(r) || r == '_' {
		return ""
	}
	return t
}

func compactJSON(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// params returns the top-level fields of a JSON object, strings as they are and other values as
// compact JSON, escaped.
func params(raw json.RawMessage) map[string]string {
	var fields map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &fields) != nil || len(fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = escapeLimit(s, maxValue)
		} else {
			out[k] = escapeLimit(string(compactJSON(v)), maxValue)
		}
	}
	return out
}

// buildMessage renders the text with the template and, for the default template, the blocks.
func buildMessage(cfg Config, d Data) (Message, error) {
	tmpl := defaultTemplate
	if cfg.Template != "" {
		var err error
		if tmpl, err = parseTemplate(cfg.Template); err != nil {
			return Message{}, fmt.Errorf("%w: Template: %v", ErrInvalidConfig, err)
		}
	}
	return render(tmpl, cfg.Template == "", d)
}

func render(tmpl *template.Template, withBlocks bool, d Data) (Message, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("%w: executing the message template: %v", ErrInvalidConfig, err)
	}
	m := Message{Text: b.String()}
	if withBlocks {
		m.Blocks, m.Attachments = blocks(d, m.Text)
	}
	return m, nil
}

// blocks builds the default Block Kit layout: a top-level section saying what happened, and an
// attachment coloured by state with the details. Slack shows the blocks instead of the text.
func blocks(d Data, fallback string) ([]slackapi.Block, []slackapi.Attachment) {
	mrkdwn := func(s string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
	}
	var headline string
	if d.Kind == hooks.KindTask {
		headline = fmt.Sprintf("Task *%s* of flow run *%s* entered *%s*", d.Name, d.WorkflowID, d.State)
	} else {
		headline = fmt.Sprintf("Flow run *%s* entered *%s*", d.Name, d.State)
	}
	top := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(headline), nil, nil)}

	var details []slackapi.Block
	if d.Message != "" {
		details = append(details, slackapi.NewSectionBlock(mrkdwn("*Message*\n"+d.Message), nil, nil))
	}
	var fields []*slackapi.TextBlockObject
	field := func(label, value string) {
		if value != "" {
			fields = append(fields, mrkdwn("*"+label+"*\n"+value))
		}
	}
	if d.Kind == hooks.KindTask {
		field("Task", d.TaskName)
	} else {
		field("Flow", d.FlowName)
	}
	field("State", fmt.Sprintf("%s (%s)", d.State, d.StateType))
	if d.Attempt > 0 {
		field("Attempt", fmt.Sprint(d.Attempt))
	}
	field("Error type", d.ErrorType)
	field("Tags", d.TagList)
	field("Scheduled start", d.ScheduledStart)
	details = append(details, slackapi.NewSectionBlock(nil, fields, nil))
	details = append(details, slackapi.NewContextBlock("",
		mrkdwn(fmt.Sprintf("See %s · namespace %s · hook %s", d.Link, d.Namespace, d.Hook))))

	att := slackapi.Attachment{
		Color:    StateColor(d.StateType),
		Fallback: fallback,
		Blocks:   slackapi.Blocks{BlockSet: details},
	}
	return top, []slackapi.Attachment{att}
}
