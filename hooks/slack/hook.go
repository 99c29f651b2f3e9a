package slack

import (
	"context"
	"text/template"

	"go.temporal.io/sdk/activity"

	"github.com/flowstate/flowstate/hooks"
)

// FlowHook returns a flow hook, registered under name, that posts a message about the run to
// Slack as cfg says. Attach it to any event (OnFailure, OnCompletion, …). opts, at most one,
// configure the hook's activity, its retry policy in particular.
//
// cfg stays in the worker's code: only the hook's name travels in workflow history. A cfg that
// does not Validate gives an invalid hook (hooks.InvalidFlowHook): a worker given it refuses to
// start, with the reason.
func FlowHook(name string, cfg Config, opts ...hooks.Options) hooks.FlowHook {
	n := newNotifier(name, cfg)
	if n.err != nil {
		return hooks.InvalidFlowHook(name, n.err)
	}
	return hooks.NewFlowHook(name, func(ctx context.Context, call hooks.FlowCall) error {
		return n.post(ctx, flowData(cfg, call, activityNamespace(ctx)))
	}, opts...)
}

// TaskHook returns a task hook, registered under name, that posts a message about the task run
// to Slack as cfg says. See FlowHook.
func TaskHook(name string, cfg Config, opts ...hooks.Options) hooks.TaskHook {
	n := newNotifier(name, cfg)
	if n.err != nil {
		return hooks.InvalidTaskHook(name, n.err)
	}
	return hooks.NewTaskHook(name, func(ctx context.Context, call hooks.TaskCall) error {
		return n.post(ctx, taskData(cfg, call, activityNamespace(ctx)))
	}, opts...)
}

// notifier is what a Slack hook keeps between calls: its config, checked and parsed once.
type notifier struct {
	name string
	cfg  Config
	tmpl *template.Template
	err  error
}

func newNotifier(name string, cfg Config) *notifier {
	n := &notifier{name: name, cfg: cfg, tmpl: defaultTemplate}
	if n.err = cfg.Validate(); n.err == nil && cfg.Template != "" {
		n.tmpl, n.err = parseTemplate(cfg.Template)
	}
	return n
}

func (n *notifier) post(ctx context.Context, d Data) error {
	e := errorf{hook: n.name}
	if n.err != nil {
		return e.permanent(ErrorTypeConfig, "%v", n.err)
	}
	msg, err := render(n.tmpl, n.cfg.Template == "", d)
	if err != nil {
		return e.permanent(ErrorTypeConfig, "%v", err)
	}
	return send(ctx, n.cfg, msg, n.name)
}

// activityNamespace returns the namespace of the workflow that scheduled the running hook call,
// or "" outside an activity.
func activityNamespace(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	return activity.GetInfo(ctx).WorkflowNamespace
}
