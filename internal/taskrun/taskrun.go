// Package taskrun is what the workflow side and the activity side of a task run tell each other:
// the task's retry spec, which travels with each call in the activity's header (so that the
// activity side decides retries as the run's plan says, whatever the worker's current
// definitions), and the log of its attempts, which the activity side keeps in its heartbeat
// details from one attempt to the next and hands back with the call's outcome (so that the state
// history shows every attempt the Temporal server ran, at no extra history event).
package taskrun

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/adapter"
)

// Header is the activity header that carries a task call's Spec.
const Header = "flowstate-task"

// LogMetadata is the payload metadata key that marks a payload holding an attempt Log, as JSON.
const LogMetadata = "flowstate-attempts"

// Spec is how the activity side of a task call decides its retries.
type Spec struct {
	// Retries is the number of retries the call has.
	Retries int `json:"retries,omitempty"`
	// Delay and Jitter give the waits before retries.
	Delay  *Delay  `json:"delay,omitempty"`
	Jitter float64 `json:"jitter,omitempty"`
	// Condition names the retry condition to ask: "" for none, Registered for the registered
	// task's, or the function's name (see adapter's retry condition table).
	Condition string `json:"condition,omitempty"`
	// Workflow is set when the workflow schedules each attempt itself.
	Workflow bool `json:"workflow,omitempty"`
}

// Registered names the retry condition of the task as the worker registered it.
const Registered = "registered"

// Wait returns the wait before the given retry (1 for the first), with u in [0, 1) choosing the
// jitter.
func (s Spec) Wait(retry int, u float64) time.Duration {
	d := s.Delay.RetryDelay()
	if d == nil {
		return 0
	}
	return adapter.JitteredDelay(d.Delay(retry), s.Jitter, u)
}

// NeedsExplicitDelay reports whether the waits differ from what the task's Temporal retry policy
// (adapter.RetryPolicy) gives by itself: lists of delays and jitter.
func (s Spec) NeedsExplicitDelay() bool {
	return s.Jitter > 0 || (s.Delay != nil && len(s.Delay.List) > 1)
}

// Delay is an adapter.RetryDelay as JSON.
type Delay struct {
	Fixed *time.Duration              `json:"fixed,omitempty"`
	List  []time.Duration             `json:"list,omitempty"`
	Exp   *adapter.ExponentialBackoff `json:"exp,omitempty"`
}

// EncodeDelay returns d as a Delay, nil for no delay.
func EncodeDelay(d adapter.RetryDelay) *Delay {
	switch d := d.(type) {
	case adapter.FixedDelay:
		v := time.Duration(d)
		return &Delay{Fixed: &v}
	case adapter.DelayList:
		return &Delay{List: slices.Clone(d)}
	case adapter.ExponentialBackoff:
		return &Delay{Exp: &d}
	}
	return nil
}

// RetryDelay returns the delay d stands for, nil for none.
func (d *Delay) RetryDelay() adapter.RetryDelay {
	switch {
	case d == nil:
		return nil
	case d.Fixed != nil:
		return adapter.FixedDelay(*d.Fixed)
	case d.Exp != nil:
		return *d.Exp
	case d.List != nil:
		return adapter.DelayList(d.List)
	}
	return nil
}

// EncodeSpec returns s as a header payload (plain JSON: a spec is not secret).
func EncodeSpec(s Spec) (*commonpb.Payload, error) {
	return converter.GetDefaultDataConverter().ToPayload(s)
}

// DecodeSpec reads a spec from a header payload.
func DecodeSpec(p *commonpb.Payload) (Spec, error) {
	var s Spec
	err := converter.GetDefaultDataConverter().FromPayload(p, &s)
	return s, err
}

// Attempt is one attempt of a task run, as its activity side saw it.
type Attempt struct {
	// N is the attempt's number, from 1.
	N int `json:"n"`
	// Started is when the attempt started, on its worker's clock.
	Started time.Time `json:"started"`
	// Ended is when it ended with Error; zero for the attempt that carries the log, and for an
	// attempt whose worker died.
	Ended     time.Time `json:"ended,omitzero"`
	Error     string    `json:"error,omitempty"`
	ErrorType string    `json:"error_type,omitempty"`
}

// Log is the attempts of a task run so far, oldest first.
type Log []Attempt

// Payload returns the log as a payload marked with LogMetadata, for heartbeat or error details.
// Being a converter.RawValue, it skips the data converter's conversion but not its codecs.
func (l Log) Payload() converter.RawValue {
	raw, _ := json.Marshal(l)
	return converter.NewRawValue(&commonpb.Payload{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON), LogMetadata: []byte("1")},
		Data:     raw,
	})
}

// FromPayload reads a log from a payload made by Payload, or from a result payload that carries
// one in its metadata. ok is false when p carries no log.
func FromPayload(p *commonpb.Payload) (l Log, ok bool, err error) {
	if p == nil {
		return nil, false, nil
	}
	if _, marked := p.GetMetadata()[LogMetadata]; marked && len(p.GetMetadata()[LogMetadata]) == 1 && p.GetMetadata()[LogMetadata][0] == '1' {
		if err := json.Unmarshal(p.GetData(), &l); err != nil {
			return nil, true, fmt.Errorf("flowstate: decoding a task's attempt log: %w", err)
		}
		return l, true, nil
	}
	if raw, ok := p.GetMetadata()[LogMetadata]; ok {
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, true, fmt.Errorf("flowstate: decoding a task's attempt log: %w", err)
		}
		return l, true, nil
	}
	return nil, false, nil
}

// Attach returns p with l in its metadata: the result of an attempt carries the attempts before it.
func Attach(p *commonpb.Payload, l Log) *commonpb.Payload {
	raw, _ := json.Marshal(l)
	if p.Metadata == nil {
		p.Metadata = map[string][]byte{}
	}
	p.Metadata[LogMetadata] = raw
	return p
}
