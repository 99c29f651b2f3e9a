package e2e_test

import (
	"testing"

	"github.com/flowstate/flowstate/dev/devserver/devtest"
)

func TestMain(m *testing.M) { devtest.Main(m) }
