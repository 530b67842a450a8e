package report

import (
	"os"
	"os/exec"
	"testing"
)

func TestZZView(t *testing.T) {
	dst := os.Getenv("REPORT_VIEW")
	if dst == "" {
		t.Skip()
	}
	o := setup(t)
	o.Steps = 60
	recordedTrain(t, o)
	if _, err := Write(o.Out, Options{}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dst)
	exec.Command("cp", "-r", o.Out, dst).Run()
}
