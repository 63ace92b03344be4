package config

import (
	"testing"
	"time"
)

func TestVIPSection(t *testing.T) {
	doc := `vip:
  interface: eth0
  vrid: 51
  priority: 150
  addresses: [10.0.0.100/24]
  advert_interval: 100ms
  nopreempt: true
  unicast_peers: [10.0.0.12]
  check: mysql:127.0.0.1:6033
  check_weight: 60
  notify: /usr/local/bin/vip-notify
  http_listen: 127.0.0.1:6036
  garp_refresh: 30s
`
	cfg, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.VIP
	if v.Interface != "eth0" || v.VRID != 51 || v.Priority != 150 || !v.NoPreempt || v.AdvertInterval != 100*time.Millisecond ||
		v.CheckWeight != 60 || v.GARPRefresh != 30*time.Second || v.UnicastPeers[0] != "10.0.0.12" {
		t.Fatalf("got %+v, want the values of the document", v)
	}
}

func TestVIPSectionRejects(t *testing.T) {
	cases := map[string]string{
		"vrid 256":         "vip: {vrid: 256}",
		"bad address":      "vip: {addresses: [10.0.0.100]}",
		"bad peer":         "vip: {unicast_peers: [peer1]}",
		"bad check kind":   "vip: {check: 'http:127.0.0.1:80'}",
		"bad check addr":   "vip: {check: 'tcp:127.0.0.1'}",
		"negative advert":  "vip: {advert_interval: -1s}",
		"weight too large": "vip: {check_weight: 300}",
		"unknown key":      "vip: {preempt_delay: 5s}",
	}
	for name, doc := range cases {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
}
