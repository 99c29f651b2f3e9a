package activities

import (
	"context"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/workflows"
)

// The sweeper's visibility queries are built as values that both render to Temporal's list filter
// syntax (for the server) and match a WorkflowExecutionInfo (for the tests' fake visibility
// store), so that the tests exercise the very queries the server is sent.

// query is a visibility list filter.
type query interface {
	String() string
	match(*workflowpb.WorkflowExecutionInfo) bool
}

// and is a conjunction; an empty one matches everything.
type and []query

func (q and) String() string { return join(q, " AND ") }

func (q and) match(e *workflowpb.WorkflowExecutionInfo) bool {
	for _, c := range q {
		if !c.match(e) {
			return false
		}
	}
	return true
}

// or is a disjunction; an empty one matches nothing.
type or []query

func (q or) String() string { return join(q, " OR ") }

func (q or) match(e *workflowpb.WorkflowExecutionInfo) bool {
	for _, c := range q {
		if c.match(e) {
			return true
		}
	}
	return false
}

func join[Q ~[]query](q Q, sep string) string {
	parts := make([]string, len(q))
	for i, c := range q {
		parts[i] = c.String()
		if _, ok := c.(or); ok && len(q) > 1 {
			parts[i] = "(" + parts[i] + ")"
		}
		if _, ok := c.(and); ok && len(q) > 1 {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, sep)
}

// Fields the sweeper filters on.
const (
	fieldTaskQueue = "TaskQueue"
	fieldType      = "WorkflowType"
	fieldStatus    = "ExecutionStatus"
	fieldCloseTime = "CloseTime"
	fieldStartTime = "StartTime"
)

// in is `field IN (values)` over a keyword field; one value renders as `field = value`.
type in struct {
	field  string
	values []string
}

func (q in) String() string {
	if len(q.values) == 1 {
		return q.field + " = " + quote(q.values[0])
	}
	quoted := make([]string, len(q.values))
	for i, v := range q.values {
		quoted[i] = quote(v)
	}
	return q.field + " IN (" + strings.Join(quoted, ", ") + ")"
}

func (q in) match(e *workflowpb.WorkflowExecutionInfo) bool {
	var v string
	switch q.field {
	case fieldTaskQueue:
		v = e.GetTaskQueue()
	case fieldType:
		v = e.GetType().GetName()
	case fieldStatus:
		v = statusName(e.GetStatus())
	default:
		return false
	}
	for _, want := range q.values {
		if v == want {
			return true
		}
	}
	return false
}

// since is `field >= t` over a time field.
type since struct {
	field string
	t     time.Time
}

func (q since) String() string {
	return q.field + " >= " + quote(q.t.UTC().Format(time.RFC3339Nano))
}

func (q since) match(e *workflowpb.WorkflowExecutionInfo) bool {
	switch q.field {
	case fieldCloseTime:
		return e.GetCloseTime() != nil && !e.GetCloseTime().AsTime().Before(q.t)
	case fieldStartTime:
		return !e.GetStartTime().AsTime().Before(q.t)
	}
	return false
}

// quote quotes a string for a list filter.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// deadStatuses are the statuses of runs that ended outside their code.
var deadStatuses = in{fieldStatus, []string{"Terminated", "TimedOut"}}

// maxQueryTerms bounds the values of one query, far below the limits of Elasticsearch (1,024
// clauses by default) and of SQL visibility: a larger watch is split over several queries.
const maxQueryTerms = 200

// watchQueries returns, for each chunk of the watch, the filter of its runs.
func watchQueries(watch []workflows.Watch) []query {
	var out []query
	var cur or
	terms := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur, terms = nil, 0
		}
	}
	for _, w := range watch {
		for _, part := range splitWatch(w) {
			n := len(part.TaskQueues) + len(part.FlowTypes)
			if terms+n > maxQueryTerms {
				flush()
			}
			cur = append(cur, and{in{fieldTaskQueue, part.TaskQueues}, in{fieldType, part.FlowTypes}})
			terms += n
		}
	}
	flush()
	return out
}

// splitWatch cuts a watch with too many values into watches of at most maxQueryTerms values.
func splitWatch(w workflows.Watch) []workflows.Watch {
	half := maxQueryTerms / 2
	if len(w.TaskQueues)+len(w.FlowTypes) <= maxQueryTerms {
		return []workflows.Watch{w}
	}
	var out []workflows.Watch
	for q := 0; q < len(w.TaskQueues); q += half {
		for t := 0; t < len(w.FlowTypes); t += half {
			out = append(out, workflows.Watch{
				TaskQueues: w.TaskQueues[q:min(q+half, len(w.TaskQueues))],
				FlowTypes:  w.FlowTypes[t:min(t+half, len(w.FlowTypes))],
			})
		}
	}
	return out
}

// sweepClient is what the sweep needs of Temporal. temporalClient is the real one; the tests fake
// it with a visibility store that lists runs late, out of order and in small pages.
type sweepClient interface {
	// list returns one page of the executions q matches.
	list(ctx context.Context, q query, token []byte) ([]*workflowpb.WorkflowExecutionInfo, []byte, error)
	// startHandler starts the crash handler of a dead run (see Sweeper.startHandler).
	startHandler(ctx context.Context, opts client.StartWorkflowOptions, dead workflows.CrashedRun) error
	// retention returns the namespace's retention period.
	retention(ctx context.Context) (time.Duration, error)
	// pollers returns the identities polling a task queue.
	pollers(ctx context.Context, queue string) (map[string]bool, error)
	// terminate terminates a workflow run.
	terminate(ctx context.Context, workflowID, runID, reason string) error
}

// listPageSize is the page size of the sweeper's list calls.
const listPageSize = 500

// temporalClient is the sweepClient of a Temporal client.
type temporalClient struct {
	c         client.Client
	namespace string
}

func (t temporalClient) list(ctx context.Context, q query, token []byte) ([]*workflowpb.WorkflowExecutionInfo, []byte, error) {
	resp, err := t.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: t.namespace, Query: q.String(), NextPageToken: token, PageSize: listPageSize,
	})
	if err != nil {
		return nil, nil, err
	}
	return resp.GetExecutions(), resp.GetNextPageToken(), nil
}

func (t temporalClient) startHandler(ctx context.Context, opts client.StartWorkflowOptions, dead workflows.CrashedRun) error {
	_, err := t.c.ExecuteWorkflow(ctx, opts, workflows.CrashHandlerWorkflow, dead)
	return err
}

func (t temporalClient) retention(ctx context.Context) (time.Duration, error) {
	resp, err := t.c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace})
	if err != nil {
		return 0, err
	}
	return resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), nil
}

func (t temporalClient) pollers(ctx context.Context, queue string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := t.c.DescribeTaskQueue(ctx, queue, typ)
		if err != nil {
			return nil, err
		}
		for _, p := range resp.GetPollers() {
			out[p.GetIdentity()] = true
		}
	}
	return out, nil
}

func (t temporalClient) terminate(ctx context.Context, workflowID, runID, reason string) error {
	return t.c.TerminateWorkflow(ctx, workflowID, runID, reason)
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "Running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "Completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "Failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "Canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "Terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "ContinuedAsNew"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "TimedOut"
	}
	return s.String()
}
