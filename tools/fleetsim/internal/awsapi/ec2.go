package awsapi

import (
	"encoding/xml"
	"errors"
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

// ec2Actions are the EC2 actions fleetsim simulates; the others go to the forward endpoint.
var ec2Actions = map[string]bool{"DescribeInstanceStatus": true, "DescribeInstances": true}

// listParam returns the values of a query-protocol list (prefix "InstanceId." for InstanceId.1,
// InstanceId.2, ...) in order.
func listParam(form url.Values, prefix string) []string {
	var keys []string
	for k := range form {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(keys[i], prefix))
		b, _ := strconv.Atoi(strings.TrimPrefix(keys[j], prefix))
		return a < b
	})
	var out []string
	for _, k := range keys {
		out = append(out, form.Get(k))
	}
	return out
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2Instance struct {
	InstanceID       string   `xml:"instanceId"`
	InstanceType     string   `xml:"instanceType"`
	Architecture     string   `xml:"architecture"`
	AvailabilityZone string   `xml:"placement>availabilityZone"`
	StateCode        int      `xml:"instanceState>code"`
	StateName        string   `xml:"instanceState>name"`
	Tags             []ec2Tag `xml:"tagSet>item"`
}

type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type ec2InstancesResponse struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []ec2Reservation `xml:"reservationSet>item"`
}

// describeInstances answers DescribeInstances by instance IDs (filters are not simulated): one
// reservation per host, with its architecture and tags (aws:autoscaling:groupName).
func (h *Handler) describeInstances(rw http.ResponseWriter, ids []string) {
	insts, missing := h.world.DescribeInstances(ids)
	if len(missing) > 0 {
		writeEC2Error(rw, 400, "InvalidInstanceID.NotFound", "The instance IDs '"+strings.Join(missing, ", ")+"' do not exist")
		return
	}
	resp := ec2InstancesResponse{Xmlns: ec2NS, RequestID: requestID()}
	for _, in := range insts {
		item := ec2Instance{InstanceID: in.InstanceID, InstanceType: in.Type, Architecture: in.Arch, AvailabilityZone: in.AZ,
			StateCode: 16, StateName: "running"}
		keys := make([]string, 0, len(in.Tags))
		for k := range in.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			item.Tags = append(item.Tags, ec2Tag{Key: k, Value: in.Tags[k]})
		}
		resp.Reservations = append(resp.Reservations, ec2Reservation{ReservationID: "r-" + strings.TrimPrefix(in.InstanceID, "i-"), Instances: []ec2Instance{item}})
	}
	rw.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	b, _ := xml.Marshal(resp)
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
	if !ec2Actions[action] && h.ec2Forward != nil {
		h.log.Debug().Str("op", "ec2:"+action).Str("caller", caller).Msg("api call forwarded")
		h.ec2Forward.ServeHTTP(rw, r)
		return
	}
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
	if !ec2Actions[action] {
		writeEC2Error(rw, 400, "InvalidAction", "The action "+action+" is not valid for this web service.")
		return
	}
	ids := listParam(form, "InstanceId.")
	if action == "DescribeInstances" {
		h.describeInstances(rw, ids)
		return
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
		msg := perr.Error()
		if apiErr := (*sim.APIError)(nil); errors.As(perr, &apiErr) {
			msg = apiErr.Message // page's errors are the APIError built above
		}
		writeEC2Error(rw, 400, "InvalidParameterValue", msg)
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
