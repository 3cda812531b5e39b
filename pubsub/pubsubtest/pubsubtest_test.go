package pubsubtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/pubsub/pubsubtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The suite passes an adapter that delivers asynchronously, as network
// adapters do, with a broker that echoes publications.
func TestAsyncAdapter(t *testing.T) {
	t.Parallel()
	b := newBroker("")
	pubsubtest.TestAdapter(t, func(*testing.T) pubsub.Adapter { return b.adapter() })
}

func isProbe(event string) bool { return strings.HasPrefix(event, "pubsubtest.probe:") }

// flawEnv names the flaw TestFlawedAdapter gives its adapters.
const flawEnv = "PUBSUBTEST_FLAW"

// TestFlawedAdapter runs the suite on adapters that break a rule; it only
// runs in a child process of TestSuiteCatchesFlaws.
func TestFlawedAdapter(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	if flaw == "" {
		t.Skip("run by TestSuiteCatchesFlaws")
	}
	b := newBroker(flaw)
	pubsubtest.TestAdapter(t, func(*testing.T) pubsub.Adapter { return b.adapter() })
}

// The suite fails adapters that break its rules, in the case meant to
// catch each flaw.
func TestSuiteCatchesFlaws(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, tc := range []struct {
		flaw, caseName, want string
	}{
		{"drop", "broadcast/json", `waits for event "new_msg"`},
		{"echo-without-origin", "broadcast/json", "recv got a message without Origin"},
		{"keep-payload", "payload-not-kept", "the adapter read the payload after Broadcast returned"},
		{"same-message", "broadcast-from", "not a new one"},
		{"ignore-unwatch", "unsubscribe", "stops getting broadcasts"},
		{"reorder", "order", "want 0"},
		{"ready-early", "ready", `waits for event "right-after-ready"`},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedAdapter$/^"+tc.caseName+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), flawEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an adapter with the flaw %q:\n%s", tc.flaw, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestFlawedAdapter/"+tc.caseName) || !strings.Contains(string(out), tc.want) {
				t.Fatalf("the flaw %q did not fail case %s with %q:\n%s", tc.flaw, tc.caseName, tc.want, out)
			}
		})
	}
}
