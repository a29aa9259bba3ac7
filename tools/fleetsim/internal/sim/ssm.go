package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/bottlerocket"
)

// SSM invocation statuses and details.
const (
	SSMPending    = "Pending"
	SSMInProgress = "InProgress"
	SSMSuccess    = "Success"
	SSMFailed     = "Failed"
	SSMTimedOut   = "TimedOut"
	SSMCancelled  = "Cancelled"
)

// Document is an SSM Command document.
type Document struct {
	Name, Content, Format, Type string
	SchemaVersion, Description  string
	CreatedAt                   time.Time
	Hash                        string
	Steps                       []docStep
	Params                      map[string]docParam
	Tags                        map[string]string
}

type docStep struct {
	Action, Name string
	RunCommand   []string
	Timeout      time.Duration
}

type docParam struct {
	Type    string `yaml:"type"`
	Default any    `yaml:"default"`
}

type rawDoc struct {
	SchemaVersion string              `yaml:"schemaVersion"`
	Description   string              `yaml:"description"`
	Parameters    map[string]docParam `yaml:"parameters"`
	MainSteps     []struct {
		Action string `yaml:"action"`
		Name   string `yaml:"name"`
		Inputs struct {
			RunCommand     any `yaml:"runCommand"`
			TimeoutSeconds any `yaml:"timeoutSeconds"`
		} `yaml:"inputs"`
	} `yaml:"mainSteps"`
}

func parseDocument(name, content, format string) (*Document, error) {
	var raw rawDoc
	if err := yaml.Unmarshal([]byte(content), &raw); err != nil {
		return nil, apiErr("InvalidDocumentContent", "The content for the document is not valid: %v", err)
	}
	if raw.SchemaVersion != "2.2" {
		return nil, apiErr("InvalidDocumentSchemaVersion", "Document schema version %q is not supported by fleetsim; use 2.2", raw.SchemaVersion)
	}
	if len(raw.MainSteps) == 0 {
		return nil, apiErr("InvalidDocumentContent", "The content for the document is not valid: mainSteps is required")
	}
	d := &Document{Name: name, Content: content, Format: format, Type: "Command", SchemaVersion: raw.SchemaVersion, Description: raw.Description, Params: raw.Parameters}
	for _, s := range raw.MainSteps {
		if s.Action != "aws:runShellScript" {
			return nil, apiErr("InvalidDocumentContent", "The content for the document is not valid: action %q is not simulated (only aws:runShellScript)", s.Action)
		}
		st := docStep{Action: s.Action, Name: s.Name, Timeout: time.Hour}
		switch v := s.Inputs.RunCommand.(type) {
		case []any:
			for _, l := range v {
				st.RunCommand = append(st.RunCommand, fmt.Sprint(l))
			}
		case string:
			st.RunCommand = []string{v}
		default:
			return nil, apiErr("InvalidDocumentContent", "The content for the document is not valid: step %q needs inputs.runCommand", s.Name)
		}
		if s.Inputs.TimeoutSeconds != nil {
			if n, err := strconv.Atoi(fmt.Sprint(s.Inputs.TimeoutSeconds)); err == nil && n > 0 {
				st.Timeout = time.Duration(n) * time.Second
			}
		}
		d.Steps = append(d.Steps, st)
	}
	sum := sha256.Sum256([]byte(content))
	d.Hash = hex.EncodeToString(sum[:])
	return d, nil
}

func (w *World) addBuiltinDocuments() {
	d, err := parseDocument("AWS-RunShellScript", `{"schemaVersion":"2.2","description":"Run a shell script.","parameters":{"commands":{"type":"StringList"},"executionTimeout":{"type":"String","default":"3600"}},"mainSteps":[{"action":"aws:runShellScript","name":"runShellScript","inputs":{"runCommand":"{{ commands }}","timeoutSeconds":"{{ executionTimeout }}"}}]}`, "JSON")
	if err == nil {
		d.CreatedAt = w.clock.Now()
		w.docs[d.Name] = d
	}
}

// DocumentView is the SSM DocumentDescription shape.
type DocumentView struct {
	Name            string   `json:"Name"`
	DocumentType    string   `json:"DocumentType"`
	DocumentFormat  string   `json:"DocumentFormat"`
	SchemaVersion   string   `json:"SchemaVersion"`
	Description     string   `json:"Description,omitempty"`
	Status          string   `json:"Status"`
	DocumentVersion string   `json:"DocumentVersion"`
	LatestVersion   string   `json:"LatestVersion"`
	DefaultVersion  string   `json:"DefaultVersion"`
	Hash            string   `json:"Hash"`
	HashType        string   `json:"HashType"`
	Owner           string   `json:"Owner"`
	CreatedDate     *Epoch   `json:"CreatedDate"`
	PlatformTypes   []string `json:"PlatformTypes"`
}

func (w *World) docView(d *Document) DocumentView {
	return DocumentView{Name: d.Name, DocumentType: d.Type, DocumentFormat: d.Format, SchemaVersion: d.SchemaVersion,
		Description: d.Description, Status: "Active", DocumentVersion: "1", LatestVersion: "1", DefaultVersion: "1",
		Hash: d.Hash, HashType: "Sha256", Owner: w.account, CreatedDate: epoch(d.CreatedAt), PlatformTypes: []string{"Linux", "MacOS"}}
}

// CreateDocument stores a Command document (schema 2.2, aws:runShellScript steps).
func (w *World) CreateDocument(name, content, docType, format string) (DocumentView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if docType != "" && docType != "Command" {
		return DocumentView{}, apiErr("InvalidDocumentType", "fleetsim only runs Command documents")
	}
	if format == "" {
		format = "JSON"
	}
	if name == "" || strings.HasPrefix(name, "AWS-") || strings.HasPrefix(name, "aws") {
		return DocumentView{}, apiErr("ValidationException", "Document name %q is invalid or reserved", name)
	}
	if w.docs[name] != nil {
		return DocumentView{}, apiErr("DocumentAlreadyExists", "Document with same name %s already exists", name)
	}
	d, err := parseDocument(name, content, format)
	if err != nil {
		return DocumentView{}, err
	}
	d.CreatedAt = w.clock.Now()
	w.docs[name] = d
	return w.docView(d), nil
}

func (w *World) doc(name string) (*Document, error) {
	if i := strings.LastIndex(name, "document/"); strings.HasPrefix(name, "arn:") && i >= 0 {
		name = name[i+len("document/"):]
	}
	d := w.docs[name]
	if d == nil {
		return nil, apiErr("InvalidDocument", "Document %s does not exist in your account", name)
	}
	return d, nil
}

// DescribeDocument describes a stored document.
func (w *World) DescribeDocument(name string) (DocumentView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, err := w.doc(name)
	if err != nil {
		return DocumentView{}, err
	}
	return w.docView(d), nil
}

// DeleteDocument removes a document; a command already sent with it runs on.
func (w *World) DeleteDocument(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, err := w.doc(name)
	if err != nil {
		return err
	}
	if strings.HasPrefix(d.Name, "AWS-") {
		return apiErr("InvalidDocumentOperation", "Document %s is owned by Amazon and cannot be deleted", d.Name)
	}
	delete(w.docs, d.Name)
	return nil
}

// DocumentTags returns a copy of a document's tags.
func (w *World) DocumentTags(name string) (map[string]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, err := w.doc(name)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(d.Tags))
	for k, v := range d.Tags {
		out[k] = v
	}
	return out, nil
}

// TagDocument sets tags on a document (add), then removes the keys of remove.
func (w *World) TagDocument(name string, add map[string]string, remove []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, err := w.doc(name)
	if err != nil {
		return err
	}
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	for k, v := range add {
		d.Tags[k] = v
	}
	for _, k := range remove {
		delete(d.Tags, k)
	}
	return nil
}

// GetDocument returns a stored document and its content.
func (w *World) GetDocument(name string) (DocumentView, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, err := w.doc(name)
	if err != nil {
		return DocumentView{}, "", err
	}
	return w.docView(d), d.Content, nil
}

// Command is one SendCommand.
type Command struct {
	ID, DocName, Comment string
	InstanceIDs          []string
	Params               map[string][]string
	RequestedAt          time.Time
	DeliveryTimeout      time.Duration
	invs                 []*Invocation
	doc                  *Document
}

// Invocation is a command on one instance.
type Invocation struct {
	cmd           *Command
	in            *Instance
	Status        string
	StatusDetails string
	StartedAt     time.Time
	EndedAt       time.Time
	ResponseCode  int
	plugins       []*pluginRun
	gen           int
	delivering    bool
	stopExec      func() bool
}

type pluginRun struct {
	Name, Status, StatusDetails string
	Stdout, Stderr              string
	ResponseCode                int
	StartedAt, EndedAt          time.Time
}

// SendCommandInput is what SendCommand needs.
type SendCommandInput struct {
	DocumentName   string
	InstanceIDs    []string
	TimeoutSeconds int
	Comment        string
	Parameters     map[string][]string
}

func (w *World) ssmReachable(in *Instance) bool {
	return w.hostUpNow(in) && in.ssmOnline && !in.faults.SSMAgentOffline
}

// SendCommand runs a document on up to 50 instances.
func (w *World) SendCommand(in SendCommandInput) (CommandView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(in.InstanceIDs) == 0 {
		return CommandView{}, apiErr("ValidationException", "Either InstanceIds or Targets should be provided")
	}
	if len(in.InstanceIDs) > 50 {
		return CommandView{}, apiErr("ValidationException", "1 validation error detected: Value '[%s]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50", strings.Join(in.InstanceIDs, ", "))
	}
	d, err := w.doc(in.DocumentName)
	if err != nil {
		return CommandView{}, err
	}
	var bad []string
	for _, id := range in.InstanceIDs {
		if w.instByEC2[id] == nil {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return CommandView{}, apiErr("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", strings.Join(bad, ", "), w.account)
	}
	timeout := in.TimeoutSeconds
	if timeout == 0 {
		timeout = 3600
	}
	if timeout < 30 || timeout > 2592000 {
		return CommandView{}, apiErr("ValidationException", "1 validation error detected: Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000", timeout)
	}
	c := &Command{ID: w.uuid(), DocName: d.Name, Comment: in.Comment, InstanceIDs: in.InstanceIDs, Params: in.Parameters,
		RequestedAt: w.clock.Now(), DeliveryTimeout: time.Duration(timeout) * time.Second, doc: d}
	w.commands = append(w.commands, c)
	w.cmdByID[c.ID] = c
	for _, id := range c.InstanceIDs {
		if cs := w.cmdsByInstance[id]; len(cs) == 0 || cs[len(cs)-1] != c { // an ID named twice
			w.cmdsByInstance[id] = append(cs, c)
		}
	}
	for _, id := range in.InstanceIDs {
		inv := &Invocation{cmd: c, in: w.instByEC2[id], Status: SSMPending, StatusDetails: SSMPending, ResponseCode: -1}
		for _, s := range d.Steps {
			inv.plugins = append(inv.plugins, &pluginRun{Name: s.Name, Status: SSMPending, StatusDetails: SSMPending, ResponseCode: -1})
		}
		c.invs = append(c.invs, inv)
		w.clock.AfterFunc(c.DeliveryTimeout, func() {
			if inv.Status == SSMPending {
				w.endInvocation(inv, SSMTimedOut, "DeliveryTimedOut", -1)
			}
		})
		w.tryDeliver(inv)
	}
	return w.commandView(c), nil
}

// tryDeliver hands a pending invocation to its instance's SSM agent when it is reachable.
func (w *World) tryDeliver(inv *Invocation) {
	if inv.Status != SSMPending || inv.delivering || !w.ssmReachable(inv.in) {
		return
	}
	inv.delivering = true
	gen := inv.in.bootGen
	w.clock.AfterFunc(w.sc.Timings.SSMDelivery.D(), func() {
		inv.delivering = false
		if inv.Status != SSMPending {
			return
		}
		if inv.in.bootGen != gen || !w.ssmReachable(inv.in) {
			w.tryDeliver(inv)
			return
		}
		w.startInvocation(inv)
	})
}

func (w *World) ssmHostDown(in *Instance) {
	for _, c := range w.commands {
		for _, inv := range c.invs {
			if inv.in == in && inv.Status == SSMInProgress {
				// The agent dies with the host: the running script never reports back, and the
				// invocation stays InProgress until its execution timeout (see README).
				inv.gen++
			}
		}
	}
}

func (w *World) ssmHostUp(in *Instance) {
	for _, c := range w.commands {
		for _, inv := range c.invs {
			if inv.in == in {
				w.tryDeliver(inv)
			}
		}
	}
}

func (w *World) startInvocation(inv *Invocation) {
	now := w.clock.Now()
	inv.Status, inv.StatusDetails, inv.StartedAt = SSMInProgress, SSMInProgress, now
	var total time.Duration
	for _, s := range inv.cmd.doc.Steps {
		total += s.Timeout
	}
	if v := inv.cmd.Params["executionTimeout"]; len(v) == 1 {
		if n, err := strconv.Atoi(v[0]); err == nil && n > 0 {
			total = time.Duration(n) * time.Second
		}
	}
	inv.stopExec = w.clock.AfterFunc(total, func() {
		if inv.Status == SSMInProgress {
			for _, p := range inv.plugins {
				if p.Status == SSMInProgress || p.Status == SSMPending {
					p.Status, p.StatusDetails, p.EndedAt = SSMTimedOut, "ExecutionTimedOut", w.clock.Now()
				}
			}
			w.endInvocation(inv, SSMTimedOut, "ExecutionTimedOut", -1)
		}
	})
	w.runStep(inv, 0, inv.gen)
}

func (w *World) expand(inv *Invocation, lines []string) []string {
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") {
			name := strings.TrimSpace(t[2 : len(t)-2])
			if v, ok := inv.cmd.Params[name]; ok {
				for _, x := range v {
					out = append(out, strings.Split(x, "\n")...)
				}
				continue
			}
			if p, ok := inv.cmd.doc.Params[name]; ok && p.Default != nil {
				out = append(out, fmt.Sprint(p.Default))
				continue
			}
		}
		// Within a line, SSM substitutes each {{ name }} by the parameter's value (as AWS does
		// for aws:runShellScript documents with parameters); an unknown name is left as it is.
		l = paramRef.ReplaceAllStringFunc(l, func(ref string) string {
			name := strings.TrimSpace(ref[2 : len(ref)-2])
			if v, ok := inv.cmd.Params[name]; ok {
				return strings.Join(v, " ")
			}
			if p, ok := inv.cmd.doc.Params[name]; ok && p.Default != nil {
				return fmt.Sprint(p.Default)
			}
			return ref
		})
		out = append(out, strings.Split(l, "\n")...)
	}
	return out
}

// paramRef is a document parameter reference, {{ name }}.
var paramRef = regexp.MustCompile(`\{\{\s*[A-Za-z0-9_.]+\s*\}\}`)

func (w *World) runStep(inv *Invocation, i, gen int) {
	if i >= len(inv.plugins) {
		last := inv.plugins[len(inv.plugins)-1]
		status := SSMSuccess
		if last.ResponseCode != 0 {
			status = SSMFailed
		}
		w.endInvocation(inv, status, status, last.ResponseCode)
		return
	}
	p := inv.plugins[i]
	p.Status, p.StatusDetails, p.StartedAt = SSMInProgress, SSMInProgress, w.clock.Now()
	lines := w.expand(inv, inv.cmd.doc.Steps[i].RunCommand)
	var next func(j, code int, setE bool)
	next = func(j, code int, setE bool) {
		if inv.gen != gen || inv.Status != SSMInProgress {
			return
		}
		if j >= len(lines) || (setE && code != 0) {
			p.ResponseCode, p.EndedAt = code, w.clock.Now()
			if code == 0 {
				p.Status, p.StatusDetails = SSMSuccess, SSMSuccess
				w.runStep(inv, i+1, gen)
				return
			}
			p.Status, p.StatusDetails = SSMFailed, SSMFailed
			for _, q := range inv.plugins[i+1:] {
				q.Status, q.StatusDetails = SSMFailed, "Skipped"
			}
			w.endInvocation(inv, SSMFailed, SSMFailed, code)
			return
		}
		line := strings.TrimSpace(lines[j])
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			next(j+1, code, setE)
		case line == "set -e" || line == "set -eu" || line == "set -euo pipefail":
			next(j+1, code, true)
		case line == "apiclient" || strings.HasPrefix(line, "apiclient "):
			inv.in.host.Run(line, func(r bottlerocket.Result) {
				if inv.gen != gen || inv.Status != SSMInProgress {
					return
				}
				p.Stdout += r.Stdout
				p.Stderr += r.Stderr
				next(j+1, r.ExitCode, setE)
			})
		default:
			p.Stderr += fmt.Sprintf("fleetsim: only apiclient command lines are simulated: %s\n", line)
			next(j+1, 127, setE)
		}
	}
	next(0, 0, false)
}

func (w *World) endInvocation(inv *Invocation, status, details string, code int) {
	inv.gen++
	inv.Status, inv.StatusDetails, inv.ResponseCode = status, details, code
	inv.EndedAt = w.clock.Now()
	if inv.stopExec != nil {
		inv.stopExec()
	}
	for _, p := range inv.plugins {
		if p.Status == SSMPending || p.Status == SSMInProgress {
			p.Status, p.StatusDetails, p.EndedAt = status, details, inv.EndedAt
		}
	}
}

// CancelCommand cancels the command's pending and in-progress invocations (all instances when
// ids is empty).
func (w *World) CancelCommand(id string, ids []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.cmdByID[id]
	if c == nil {
		return apiErr("InvalidCommandId", "Command %s not found", id)
	}
	for _, inv := range c.invs {
		if len(ids) > 0 && !contains(ids, inv.in.EC2ID) {
			continue
		}
		if inv.Status == SSMPending || inv.Status == SSMInProgress {
			w.endInvocation(inv, SSMCancelled, SSMCancelled, -1)
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// CommandView is the SSM Command shape.
type CommandView struct {
	CommandID             string              `json:"CommandId"`
	DocumentName          string              `json:"DocumentName"`
	DocumentVersion       string              `json:"DocumentVersion"`
	Comment               string              `json:"Comment"`
	InstanceIDs           []string            `json:"InstanceIds"`
	Parameters            map[string][]string `json:"Parameters"`
	RequestedDateTime     *Epoch              `json:"RequestedDateTime"`
	ExpiresAfter          *Epoch              `json:"ExpiresAfter"`
	Status                string              `json:"Status"`
	StatusDetails         string              `json:"StatusDetails"`
	TargetCount           int                 `json:"TargetCount"`
	CompletedCount        int                 `json:"CompletedCount"`
	ErrorCount            int                 `json:"ErrorCount"`
	DeliveryTimedOutCount int                 `json:"DeliveryTimedOutCount"`
	MaxConcurrency        string              `json:"MaxConcurrency"`
	MaxErrors             string              `json:"MaxErrors"`
	TimeoutSeconds        int                 `json:"TimeoutSeconds"`
	Targets               []any               `json:"Targets"`
}

func (w *World) commandView(c *Command) CommandView {
	v := CommandView{CommandID: c.ID, DocumentName: c.DocName, DocumentVersion: "$DEFAULT", Comment: c.Comment,
		InstanceIDs: c.InstanceIDs, Parameters: c.Params, RequestedDateTime: epoch(c.RequestedAt),
		ExpiresAfter: epoch(c.RequestedAt.Add(c.DeliveryTimeout)), TargetCount: len(c.invs),
		MaxConcurrency: "50", MaxErrors: "0", TimeoutSeconds: int(c.DeliveryTimeout / time.Second), Targets: []any{}}
	if v.Parameters == nil {
		v.Parameters = map[string][]string{}
	}
	pending, inProgress := 0, 0
	counts := map[string]int{}
	for _, inv := range c.invs {
		switch inv.Status {
		case SSMPending:
			pending++
		case SSMInProgress:
			inProgress++
		default:
			v.CompletedCount++
			counts[inv.Status]++
			if inv.Status != SSMSuccess {
				v.ErrorCount++
			}
			if inv.StatusDetails == "DeliveryTimedOut" {
				v.DeliveryTimedOutCount++
			}
		}
	}
	switch {
	case pending == len(c.invs):
		v.Status = SSMPending
	case pending+inProgress > 0:
		v.Status = SSMInProgress
	case counts[SSMFailed] > 0:
		v.Status = SSMFailed
	case counts[SSMTimedOut] > 0:
		v.Status = SSMTimedOut
	case counts[SSMCancelled] > 0:
		v.Status = SSMCancelled
	default:
		v.Status = SSMSuccess
	}
	v.StatusDetails = v.Status
	return v
}

// CommandFilter selects commands for ListCommands and ListCommandInvocations.
type CommandFilter struct {
	CommandID, InstanceID string
	Filters               map[string]string // DocumentName, InvokedAfter, InvokedBefore, Status
}

func (w *World) selectCommands(f CommandFilter) ([]*Command, error) {
	if f.CommandID != "" && w.cmdByID[f.CommandID] == nil {
		return nil, apiErr("InvalidCommandId", "Command %s not found", f.CommandID)
	}
	if f.InstanceID != "" && w.instByEC2[f.InstanceID] == nil {
		return nil, apiErr("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", f.InstanceID, w.account)
	}
	var after, before time.Time
	for k, v := range f.Filters {
		switch k {
		case "InvokedAfter", "InvokedBefore":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, apiErr("InvalidFilterValue", "%s value %q is not an ISO 8601 timestamp", k, v)
			}
			if k == "InvokedAfter" {
				after = t
			} else {
				before = t
			}
		case "DocumentName", "Status", "ExecutionStage":
		default:
			return nil, apiErr("InvalidFilterKey", "filter key %s is not valid", k)
		}
	}
	// The commands to look at, oldest first: one, one instance's, or all.
	candidates := w.commands
	switch {
	case f.CommandID != "":
		candidates = []*Command{w.cmdByID[f.CommandID]}
	case f.InstanceID != "":
		candidates = w.cmdsByInstance[f.InstanceID]
	}
	var out []*Command
	for i := len(candidates) - 1; i >= 0; i-- {
		c := candidates[i]
		if f.CommandID != "" && c.ID != f.CommandID {
			continue
		}
		if f.InstanceID != "" && !contains(c.InstanceIDs, f.InstanceID) {
			continue
		}
		if d := f.Filters["DocumentName"]; d != "" && d != c.DocName {
			continue
		}
		if s := f.Filters["Status"]; s != "" && s != w.commandView(c).Status {
			continue
		}
		if !after.IsZero() && c.RequestedAt.Before(after) {
			continue
		}
		if !before.IsZero() && c.RequestedAt.After(before) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// ListCommands lists commands, newest first.
func (w *World) ListCommands(f CommandFilter) ([]CommandView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs, err := w.selectCommands(f)
	if err != nil {
		return nil, err
	}
	out := []CommandView{}
	for _, c := range cs {
		out = append(out, w.commandView(c))
	}
	return out, nil
}

// PluginView is the SSM CommandPlugin shape.
type PluginView struct {
	Name                   string `json:"Name"`
	Status                 string `json:"Status"`
	StatusDetails          string `json:"StatusDetails"`
	ResponseCode           int    `json:"ResponseCode"`
	ResponseStartDateTime  *Epoch `json:"ResponseStartDateTime,omitempty"`
	ResponseFinishDateTime *Epoch `json:"ResponseFinishDateTime,omitempty"`
	Output                 string `json:"Output"`
	StandardOutputURL      string `json:"StandardOutputUrl"`
	StandardErrorURL       string `json:"StandardErrorUrl"`
}

// InvocationView is the SSM CommandInvocation shape.
type InvocationView struct {
	CommandID         string       `json:"CommandId"`
	InstanceID        string       `json:"InstanceId"`
	InstanceName      string       `json:"InstanceName"`
	Comment           string       `json:"Comment"`
	DocumentName      string       `json:"DocumentName"`
	DocumentVersion   string       `json:"DocumentVersion"`
	RequestedDateTime *Epoch       `json:"RequestedDateTime"`
	Status            string       `json:"Status"`
	StatusDetails     string       `json:"StatusDetails"`
	TraceOutput       string       `json:"TraceOutput"`
	CommandPlugins    []PluginView `json:"CommandPlugins"`
}

func pluginOutput(p *pluginRun) string {
	out := p.Stdout
	if p.Stderr != "" {
		out += "\n----------ERROR-------\n" + p.Stderr
	}
	if len(out) > 2500 {
		out = out[:2500]
	}
	return out
}

// ListCommandInvocations lists invocations, with plugin details when details is set.
func (w *World) ListCommandInvocations(f CommandFilter, details bool) ([]InvocationView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs, err := w.selectCommands(f)
	if err != nil {
		return nil, err
	}
	out := []InvocationView{}
	for _, c := range cs {
		for _, inv := range c.invs {
			if f.InstanceID != "" && inv.in.EC2ID != f.InstanceID {
				continue
			}
			v := InvocationView{CommandID: c.ID, InstanceID: inv.in.EC2ID, Comment: c.Comment, DocumentName: c.DocName,
				DocumentVersion: "$DEFAULT", RequestedDateTime: epoch(c.RequestedAt), Status: inv.Status,
				StatusDetails: inv.StatusDetails, CommandPlugins: []PluginView{}}
			if details {
				for _, p := range inv.plugins {
					v.CommandPlugins = append(v.CommandPlugins, PluginView{Name: p.Name, Status: p.Status, StatusDetails: p.StatusDetails,
						ResponseCode: p.ResponseCode, ResponseStartDateTime: epoch(p.StartedAt), ResponseFinishDateTime: epoch(p.EndedAt),
						Output: pluginOutput(p)})
				}
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// GetInvocationView is the GetCommandInvocation output shape.
type GetInvocationView struct {
	CommandID              string `json:"CommandId"`
	InstanceID             string `json:"InstanceId"`
	Comment                string `json:"Comment"`
	DocumentName           string `json:"DocumentName"`
	DocumentVersion        string `json:"DocumentVersion"`
	PluginName             string `json:"PluginName"`
	ResponseCode           int    `json:"ResponseCode"`
	ExecutionStartDateTime string `json:"ExecutionStartDateTime"`
	ExecutionElapsedTime   string `json:"ExecutionElapsedTime"`
	ExecutionEndDateTime   string `json:"ExecutionEndDateTime"`
	Status                 string `json:"Status"`
	StatusDetails          string `json:"StatusDetails"`
	StandardOutputContent  string `json:"StandardOutputContent"`
	StandardOutputURL      string `json:"StandardOutputUrl"`
	StandardErrorContent   string `json:"StandardErrorContent"`
	StandardErrorURL       string `json:"StandardErrorUrl"`
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// GetCommandInvocation returns one invocation; plugin may be empty for one-step documents.
func (w *World) GetCommandInvocation(id, instanceID, plugin string) (GetInvocationView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.cmdByID[id]
	var inv *Invocation
	if c != nil {
		for _, x := range c.invs {
			if x.in.EC2ID == instanceID {
				inv = x
			}
		}
	}
	if inv == nil {
		return GetInvocationView{}, apiErr("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation")
	}
	var p *pluginRun
	if plugin == "" {
		if len(inv.plugins) > 1 {
			return GetInvocationView{}, apiErr("InvalidPluginName", "The document has more than one step: specify PluginName")
		}
		p = inv.plugins[0]
	} else {
		for _, x := range inv.plugins {
			if x.Name == plugin {
				p = x
			}
		}
		if p == nil {
			return GetInvocationView{}, apiErr("InvalidPluginName", "The plugin name %s is not valid", plugin)
		}
	}
	v := GetInvocationView{CommandID: c.ID, InstanceID: instanceID, Comment: c.Comment, DocumentName: c.DocName,
		DocumentVersion: "$DEFAULT", PluginName: p.Name, ResponseCode: p.ResponseCode,
		ExecutionStartDateTime: isoTime(p.StartedAt), ExecutionEndDateTime: isoTime(p.EndedAt),
		Status: p.Status, StatusDetails: p.StatusDetails, StandardOutputContent: p.Stdout, StandardErrorContent: p.Stderr}
	if len(inv.plugins) == 1 {
		v.Status, v.StatusDetails, v.ResponseCode = inv.Status, inv.StatusDetails, inv.ResponseCode
	}
	if !p.StartedAt.IsZero() {
		end := p.EndedAt
		if end.IsZero() {
			end = w.clock.Now()
		}
		v.ExecutionElapsedTime = fmt.Sprintf("PT%.3fS", end.Sub(p.StartedAt).Seconds())
	}
	return v, nil
}

// InstanceInformationView is the SSM InstanceInformation shape.
type InstanceInformationView struct {
	InstanceID       string `json:"InstanceId"`
	PingStatus       string `json:"PingStatus"`
	LastPingDateTime *Epoch `json:"LastPingDateTime"`
	AgentVersion     string `json:"AgentVersion"`
	IsLatestVersion  bool   `json:"IsLatestVersion"`
	PlatformType     string `json:"PlatformType"`
	PlatformName     string `json:"PlatformName"`
	PlatformVersion  string `json:"PlatformVersion"`
	ResourceType     string `json:"ResourceType"`
	ComputerName     string `json:"ComputerName"`
	IPAddress        string `json:"IPAddress"`
}

// DescribeInstanceInformation describes the SSM managed instances (all when ids is empty):
// PingStatus is Online while the host is up and its SSM agent online, ConnectionLost otherwise.
func (w *World) DescribeInstanceInformation(ids []string, ping []string) []InstanceInformationView {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []InstanceInformationView{}
	for n, in := range w.instances {
		if len(ids) > 0 && !contains(ids, in.EC2ID) {
			continue
		}
		status := "Online"
		if !w.ssmReachable(in) {
			status = "ConnectionLost"
		}
		if len(ping) > 0 && !contains(ping, status) {
			continue
		}
		version := in.host.Version()
		out = append(out, InstanceInformationView{InstanceID: in.EC2ID, PingStatus: status, LastPingDateTime: epoch(w.clock.Now()),
			AgentVersion: "3.3.1142.0", IsLatestVersion: false, PlatformType: "Linux", PlatformName: "Bottlerocket OS",
			PlatformVersion: version, ResourceType: "EC2Instance", ComputerName: "ip-10-0-" + strconv.Itoa(n/250) + "-" + strconv.Itoa(n%250+4) + ".ec2.internal",
			IPAddress: "10.0." + strconv.Itoa(n/250) + "." + strconv.Itoa(n%250+4)})
	}
	return out
}
