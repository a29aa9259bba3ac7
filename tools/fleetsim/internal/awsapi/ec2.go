package awsapi

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

type ec2Detail struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type ec2Summary struct {
	Status  string      `xml:"status"`
	Details []ec2Detail `xml:"details>item"`
}

type ec2StatusItem struct {
	InstanceID       string     `xml:"instanceId"`
	AvailabilityZone string     `xml:"availabilityZone"`
	StateCode        int        `xml:"instanceState>code"`
	StateName        string     `xml:"instanceState>name"`
	SystemStatus     ec2Summary `xml:"systemStatus"`
	InstanceStatus   ec2Summary `xml:"instanceStatus"`
}

type ec2StatusResponse struct {
	XMLName   xml.Name        `xml:"DescribeInstanceStatusResponse"`
	Xmlns     string          `xml:"xmlns,attr"`
	RequestID string          `xml:"requestId"`
	Items     []ec2StatusItem `xml:"instanceStatusSet>item"`
	NextToken string          `xml:"nextToken,omitempty"`
}

type ec2ErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeEC2Error(rw http.ResponseWriter, status int, code, msg string) {
	rw.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	rw.WriteHeader(status)
	b, _ := xml.Marshal(ec2ErrorResponse{Code: code, Message: msg, RequestID: requestID()})
	_, _ = rw.Write(append([]byte(xml.Header), b...))
}

func (h *Handler) serveEC2(rw http.ResponseWriter, r *http.Request, body []byte, caller string) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeEC2Error(rw, 400, "InvalidParameterValue", err.Error())
		return
	}
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	action := form.Get("Action")
	opName := "ec2:" + action
	h.world.CountCall(opName, caller)
	throttle, fail, err := h.fault(r.Context(), opName)
	if err != nil {
		return
	}
	switch {
	case throttle:
		writeEC2Error(rw, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		return
	case fail:
		writeEC2Error(rw, http.StatusInternalServerError, "InternalError", "fleetsim: injected server error")
		return
	}
	if action != "DescribeInstanceStatus" {
		writeEC2Error(rw, 400, "InvalidAction", "The action "+action+" is not valid for this web service.")
		return
	}
	var ids []string
	var keys []string
	for k := range form {
		if strings.HasPrefix(k, "InstanceId.") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(keys[i], "InstanceId."))
		b, _ := strconv.Atoi(strings.TrimPrefix(keys[j], "InstanceId."))
		return a < b
	})
	for _, k := range keys {
		ids = append(ids, form.Get(k))
	}
	sts, missing := h.world.DescribeInstanceStatus(ids)
	if len(missing) > 0 {
		writeEC2Error(rw, 400, "InvalidInstanceID.NotFound", "The instance IDs '"+strings.Join(missing, ", ")+"' do not exist")
		return
	}
	maxResults, _ := strconv.Atoi(form.Get("MaxResults"))
	if maxResults == 0 {
		maxResults = 1000
	}
	if len(ids) > 0 && form.Get("MaxResults") != "" {
		writeEC2Error(rw, 400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
		return
	}
	items, next, perr := page(sts, form.Get("NextToken"), maxResults, 1000, 5, 1000, func(m string) error {
		return &sim.APIError{Code: "InvalidParameterValue", Message: m}
	})
	if perr != nil {
		writeEC2Error(rw, 400, "InvalidParameterValue", perr.(*sim.APIError).Message)
		return
	}
	resp := ec2StatusResponse{Xmlns: ec2NS, RequestID: requestID()}
	if next != nil {
		resp.NextToken = *next
	}
	for _, s := range items {
		check := "passed"
		if s.Status != "ok" {
			check = "initializing"
		}
		sum := ec2Summary{Status: s.Status, Details: []ec2Detail{{Name: "reachability", Status: check}}}
		resp.Items = append(resp.Items, ec2StatusItem{InstanceID: s.InstanceID, AvailabilityZone: s.AZ, StateCode: 16, StateName: "running",
			SystemStatus: sum, InstanceStatus: sum})
	}
	rw.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	b, _ := xml.Marshal(resp)
	_, _ = rw.Write(append([]byte(xml.Header), b...))
}
