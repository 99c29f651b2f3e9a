package workflows

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// history builds a recorder with n task runs of three entries each; messy gives each failure a
// message of random letters, which do not compress.
func bigRecorder(n int, messy bool) *recorder {
	r := &recorder{history: hooks.History{Flow: "big", WorkflowID: "big-run", RunID: "r1"}}
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	add := func(run string, st hooks.State) {
		r.add(hooks.Entry{Kind: hooks.KindTask, Run: run, Name: "task", State: &st})
	}
	st := hooks.NewState(hooks.Running, t0)
	r.add(hooks.Entry{Kind: hooks.KindFlow, Run: "big-run", Name: "big", State: &st})
	for i := range n {
		run := fmt.Sprintf("task#%d", i+1)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		add(run, hooks.NewState(hooks.Pending, at))
		add(run, hooks.NewState(hooks.Running, at))
		end := hooks.NewState(hooks.Completed, at)
		if messy {
			end = hooks.NewState(hooks.Failed, at)
			msg := make([]byte, 120)
			for j := range msg {
				msg[j] = byte('a' + rng.IntN(26))
			}
			end.Message = string(msg)
		}
		add(run, end)
	}
	return r
}

// toMemo encodes memo fields as the SDK does.
func toMemo(t *testing.T, fields map[string]any) *commonpb.Memo {
	memo := &commonpb.Memo{Fields: map[string]*commonpb.Payload{}}
	size := 0
	for k, v := range fields {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		require.NoError(t, err)
		memo.Fields[k] = p
		size += len(p.GetData())
	}
	require.Less(t, size, 1<<20, "the memo stays near 1 MiB, well under Temporal's 2 MiB")
	return memo
}

// A closed run whose state history does not fit in the memo's plain field keeps all of it
// compressed beside it, and ReadHistoryMemo reads every entry without a query.
func TestMemoArchiveKeepsEveryEntry(t *testing.T) {
	r := bigRecorder(10000, false)
	fields := r.memoFields()
	plain := fields[names.MemoHistory].(hooks.History)
	require.Positive(t, plain.Omitted, "30,001 entries do not fit in the plain field")
	require.Contains(t, fields, names.MemoArchive)

	h, err := adapter.ReadHistoryMemo(toMemo(t, fields))
	require.NoError(t, err)
	require.Len(t, h.Entries, 30001)
	require.Zero(t, h.Omitted)
	require.Equal(t, 30001, h.Total)
	for i, e := range h.Entries {
		require.Equal(t, i+1, e.Seq)
	}
}

// When even the compressed history does not fit, the memo keeps the plain field alone, which says
// what it leaves out; ReadHistory then pages through the query.
func TestMemoWithoutArchiveCountsWhatItLeavesOut(t *testing.T) {
	r := bigRecorder(10000, true)
	fields := r.memoFields()
	require.NotContains(t, fields, names.MemoArchive, "random messages do not compress below the bound")
	h, err := adapter.ReadHistoryMemo(toMemo(t, fields))
	require.NoError(t, err)
	require.Positive(t, h.Omitted)
	require.Equal(t, 30001, h.Total)
	require.Equal(t, 30001, len(h.Entries)+h.Omitted)
	require.Positive(t, h.Summary["task Failed"])
}
