package secrets_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowstate/flowstate/hooks/secrets"
)

func ExampleEnvVar() {
	fmt.Println(secrets.EnvVar("slack-webhook/my-slack-webhook"))
	// Output: FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK
}

func ExampleChain() {
	dir, _ := os.MkdirTemp("", "secrets")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "secrets.json")
	_ = os.WriteFile(path, []byte(`{"slack-webhook/my-slack-webhook": "https://hooks.slack.com/services/T0/B0/XXXX"}`), 0o600)

	r := secrets.Chain(secrets.Env(), secrets.File(path))
	v, err := r.Resolve(context.Background(), "slack-webhook/my-slack-webhook")
	fmt.Println(v != "", err)

	_, err = secrets.Chain(secrets.Env()).Resolve(context.Background(), "slack-webhook/missing")
	fmt.Println(err)
	// Output:
	// true <nil>
	// flowstate: unknown secret "slack-webhook/missing" (looked in environment variable FLOWSTATE_SECRET_SLACK_WEBHOOK_MISSING)
}
