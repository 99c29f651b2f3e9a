package tripbooking

import (
	"encoding/json"
	"time"
)

func jsonDecode(raw json.RawMessage, ptr any) error { return json.Unmarshal(raw, ptr) }

func waitFor(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }
