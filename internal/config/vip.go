package config

// VIP configures `vigil vip`. Flags on the command line override it.
type VIP struct {
	// Interface carries the virtual address (e.g. eth0).
	Interface string `yaml:"interface,omitempty"`
	// VRID is the virtual router id, 1..255.
	VRID int `yaml:"vrid,omitempty"`
	// Priority is 1..254 (255 is for the address owner).
	Priority int `yaml:"priority,omitempty"`
	// Addresses are the virtual addresses, ADDR/PREFIX.
	Addresses []string `yaml:"addresses,omitempty"`
}

func (v *VIP) setDefaults() {}

// Validate checks the section; an empty section is valid (the role is unused).
func (v *VIP) Validate() error { return nil }
