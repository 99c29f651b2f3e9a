package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The SDK's log lines come out in flowstate's format, at levels that match what happened.
func TestSDKLogLevels(t *testing.T) {
	tests := []struct {
		name  string
		log   func(l interface{ Error(string, ...any) }) // the SDK logs these at Error
		level slog.Level                                 // the logger's level
		want  string                                     // "" for nothing
	}{
		{"cancelled activity", func(l interface{ Error(string, ...any) }) {
			l.Error("Activity error.", "ActivityType", "nap", "Error", context.Canceled)
		}, slog.LevelInfo, ""},
		{"cancelled activity, shown at debug", func(l interface{ Error(string, ...any) }) {
			l.Error("Activity error.", "ActivityType", "nap", "Error", temporal.NewCanceledError())
		}, slog.LevelDebug, `level=DEBUG msg="Activity error." ActivityType=nap`},
		{"connection closing at Ctrl-C", func(l interface{ Error(string, ...any) }) {
			l.Error("Task processing failed with error", "Error", status.Error(codes.Canceled, "grpc: the client connection is closing"))
		}, slog.LevelInfo, ""},
		{"heartbeat of a cancelled activity", func(l interface{ Error(string, ...any) }) {
			l.Error("RecordActivityHeartbeat with error", "Error", serviceerror.NewCanceled("context canceled"))
		}, slog.LevelInfo, ""},
		{"run closed under its activity", func(l interface{ Error(string, ...any) }) {
			l.Error("RecordActivityHeartbeat with error", "Error", serviceerror.NewNotFound("workflow execution already completed"))
		}, slog.LevelInfo, `level=INFO msg="RecordActivityHeartbeat with error" Error="workflow execution already completed"`},
		{"failed attempt", func(l interface{ Error(string, ...any) }) {
			l.Error("Activity error.", "ActivityType", "flaky-task", "Error", errors.New("attempt 1 failed"))
		}, slog.LevelInfo, `level=WARN msg="Activity error." ActivityType=flaky-task Error="attempt 1 failed"`},
		{"failed attempt, demo level", func(l interface{ Error(string, ...any) }) {
			l.Error("Activity error.", "Error", errors.New("oops"))
		}, slog.LevelError, ""},
		{"other errors stay errors", func(l interface{ Error(string, ...any) }) {
			l.Error("Workflow panic", "Error", errors.New("boom"))
		}, slog.LevelInfo, `level=ERROR msg="Workflow panic" Error=boom`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(sdkLogger(newLogger(&buf, tt.level)))
			if tt.want == "" {
				require.Empty(t, buf.String())
				return
			}
			require.Regexp(t, `^time=\S+ `, buf.String(), "slog's text format")
			require.Contains(t, buf.String(), tt.want)
			require.Equal(t, 1, strings.Count(buf.String(), "\n"))
		})
	}

	// Attributes the SDK adds with With keep the levels.
	var buf bytes.Buffer
	l := sdklog.With(sdkLogger(newLogger(&buf, slog.LevelInfo)), "Namespace", "default")
	l.Error("Activity error.", "Error", context.Canceled)
	require.Empty(t, buf.String())
	l.Debug("ExecuteActivity")
	require.Empty(t, buf.String(), "no SDK debug lines at info")
	l.Error("Activity error.", "Error", errors.New("boom"))
	require.Contains(t, buf.String(), `level=WARN msg="Activity error." Namespace=default Error=boom`)
}

func TestLogLevel(t *testing.T) {
	tests := []struct {
		name, env string
		args      []string
		def       slog.Level
		want      slog.Level
		err       string
	}{
		{name: "default", def: slog.LevelInfo, want: slog.LevelInfo},
		{name: "demo default", def: slog.LevelError, want: slog.LevelError},
		{name: "env", env: "debug", def: slog.LevelInfo, want: slog.LevelDebug},
		{name: "flag over env", env: "debug", args: []string{"--log-level", "warn"}, def: slog.LevelInfo, want: slog.LevelWarn},
		{name: "bad env", env: "loud", def: slog.LevelInfo, err: "$FLOWSTATE_LOG_LEVEL"},
		{name: "bad flag", args: []string{"--log-level", "loud"}, def: slog.LevelInfo, err: `"loud": want debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(LogLevelEnv, tt.env)
			fs := newFlags("x", "x")
			fs.SetOutput(&bytes.Buffer{})
			l := logLevelFlag(fs, tt.def)
			err := parse(fs, tt.args)
			if err == nil {
				var lvl slog.Level
				lvl, err = l.Level()
				if err == nil {
					require.Empty(t, tt.err)
					require.Equal(t, tt.want, lvl)
					return
				}
			}
			require.ErrorContains(t, err, tt.err)
			require.ErrorIs(t, err, errUsage)
		})
	}
}
