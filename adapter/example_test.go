package adapter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
)

func ExampleDelayList() {
	d := adapter.DelayList{time.Second, 10 * time.Second, time.Minute}
	for retry := 1; retry <= 4; retry++ {
		fmt.Print(d.Delay(retry), " ")
	}
	fmt.Println()
	// Output: 1s 10s 1m0s 1m0s
}

func ExampleExponentialBackoff() {
	b := adapter.ExponentialBackoff{Initial: 10 * time.Second, Max: time.Minute}
	for retry := 1; retry <= 4; retry++ {
		fmt.Print(b.Delay(retry), " ")
	}
	fmt.Println()
	// Output: 10s 20s 40s 1m0s
}

// A flow's input is JSON for its parameters; the worker checks it before the body runs.
func ExampleFlow_ValidateInput() {
	type params struct {
		Name string `json:"name"`
	}
	greet := adapter.NewFlow("greet", func(ctx workflow.Context, p params) (string, error) {
		return "hello " + p.Name, nil
	})
	fmt.Println(greet.ValidateInput(json.RawMessage(`{"name": "ada"}`)))
	err := greet.ValidateInput(json.RawMessage(`{"nmae": "ada"}`))
	fmt.Println(errors.Is(err, adapter.ErrInvalidInput))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// flowstate: flow "greet": input is not valid JSON for its parameters: json: unknown field "nmae"
}

func ExampleFlowOptions_Validate() {
	opts := adapter.FlowOptions{Retries: -1}
	fmt.Println(opts.Validate())
	// Output: flowstate: invalid options: retries must not be negative, got -1
}
