package topology_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// motoURL is the moto server TestMain started for this package.
var motoURL string

// TestMain starts moto from the repository's .venv (installed by `make deps`) for the contract
// tests against real SQS. It moves to tools/harness once that lands.
func TestMain(m *testing.M) {
	stop, url, err := startMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start moto:", err)
		os.Exit(1)
	}
	motoURL = url
	code := m.Run()
	stop()
	os.Exit(code)
}

func startMoto() (stop func(), url string, err error) {
	bin, err := findUp(".venv/bin/moto_server")
	if err != nil {
		return nil, "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	log, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		log.Close()
		os.Remove(log.Name())
	}
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/moto-api/data.json", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, url, nil
			}
		}
		select {
		case <-exited:
			return nil, "", fmt.Errorf("moto exited before it was ready; see %s", log.Name())
		case <-ctx.Done():
			stop()
			return nil, "", fmt.Errorf("moto not ready within 30s")
		case <-tick.C:
		}
	}
}

// findUp finds rel in the working directory or one of its parents.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory: run make deps", rel)
		}
		dir = parent
	}
}

func motoConfig() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(motoURL),
	}
}
