package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// FetchDigests gets the n busiest digests from a proxy's HTTP API at
// baseURL (e.g. http://127.0.0.1:6034), as served by Stats.Handler.
func FetchDigests(ctx context.Context, client *http.Client, baseURL string, n int) ([]DigestStat, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("proxy URL %q: %w", baseURL, err)
	}
	u = u.JoinPath("/api/v1/digests")
	u.RawQuery = "limit=" + strconv.Itoa(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get digests: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get digests from %s: %s", u, resp.Status)
	}
	var body DigestsResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode digests: %w", err)
	}
	return body.Digests, nil
}

// WriteTop prints digests as a table, busiest first: count, total, mean
// and max time, rows, errors, the share run on replicas, and the text cut
// to width characters (0: uncut).
func WriteTop(w io.Writer, digests []DigestStat, width int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "COUNT\tTOTAL\tMEAN\tMAX\tROWS\tERRORS\tREPLICA\tPRIMARY\tREJECT\t DIGEST")
	for _, d := range digests {
		mean := time.Duration(0)
		if d.Count > 0 {
			mean = d.Total / time.Duration(d.Count)
		}
		text := d.Text
		if width > 0 && len(text) > width {
			text = text[:width-3] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t %s\n", d.Count, short(d.Total), short(mean),
			short(d.Max), d.Rows, d.Errors, d.Replica, d.Primary, d.Rejected, text)
	}
	return tw.Flush()
}

// short formats a duration with three significant digits.
func short(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// SortKeys are the orders SortDigests knows.
var SortKeys = []string{"total", "count", "mean", "max", "errors", "rows"}

// SortDigests orders ds by key (one of SortKeys), largest first.
func SortDigests(ds []DigestStat, key string) error {
	var val func(d DigestStat) float64
	switch key {
	case "total":
		val = func(d DigestStat) float64 { return float64(d.Total) }
	case "count":
		val = func(d DigestStat) float64 { return float64(d.Count) }
	case "mean":
		val = func(d DigestStat) float64 { return float64(d.Total) / float64(max(d.Count, 1)) }
	case "max":
		val = func(d DigestStat) float64 { return float64(d.Max) }
	case "errors":
		val = func(d DigestStat) float64 { return float64(d.Errors) }
	case "rows":
		val = func(d DigestStat) float64 { return float64(d.Rows) }
	default:
		return fmt.Errorf("sort %q: want one of %v", key, SortKeys)
	}
	slices.SortStableFunc(ds, func(a, b DigestStat) int {
		va, vb := val(a), val(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return nil
}
