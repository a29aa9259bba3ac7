// Package server puts fleetsim's admin API (under /fleetsim/) and the AWS APIs on one HTTP
// handler.
package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/awsapi"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

// New returns the handler: /fleetsim/... is the admin API, everything else an AWS call. The EC2
// actions fleetsim does not simulate go to ec2Forward when it is set (awsapi.New).
func New(w *sim.World, counters *sim.EventCounters, log zerolog.Logger, ec2Forward *url.URL) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fleetsim/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("PUT /fleetsim/scenario", func(rw http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		sc, err := scenario.Parse(b)
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.Load(sc)
		log.Info().Int("clusters", len(sc.Clusters)).Msg("scenario loaded")
		writeJSON(rw, http.StatusOK, w.State())
	})
	mux.HandleFunc("GET /fleetsim/state", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, w.State())
	})
	mux.HandleFunc("GET /fleetsim/report", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, w.Report(counters))
	})
	mux.HandleFunc("POST /fleetsim/faults", func(rw http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		var f admin.Faults
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "decode faults: " + err.Error()})
			return
		}
		w.InjectFaults(f)
		writeJSON(rw, http.StatusOK, w.State().Faults)
	})
	mux.HandleFunc("POST /fleetsim/releases", func(rw http.ResponseWriter, r *http.Request) {
		var rel admin.Release
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rel); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "decode release: " + err.Error()})
			return
		}
		if err := w.PublishRelease(rel); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		log.Info().Str("version", rel.Version).Stringer("after", rel.ReleasedAt.D()).Msg("release published")
		writeJSON(rw, http.StatusOK, rel)
	})
	mux.HandleFunc("DELETE /fleetsim/faults", func(rw http.ResponseWriter, _ *http.Request) {
		w.ClearFaults()
		writeJSON(rw, http.StatusOK, w.State().Faults)
	})
	mux.HandleFunc("/fleetsim/", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusNotFound, map[string]string{"error": "no such admin endpoint"})
	})
	mux.Handle("/", awsapi.New(w, log, ec2Forward))
	return mux
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
