package e2e_test

import (
	"testing"

	"github.com/flowstate/flowstate/dev/flowstatetest"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }
