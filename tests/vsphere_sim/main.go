// Command vcsim is a minimal vSphere API simulator for the vmcensus tests.
//
// It builds an in-memory vCenter (VPX) inventory with govmomi's simulator
// library (govmomi 0.24.2 from the Debian package
// golang-github-vmware-govmomi-dev), serves it over plain HTTP, prints one
// line "VCSIM_URL=http://127.0.0.1:PORT/sdk" to stdout once listening, and
// serves until SIGTERM or SIGINT. Any user name and password are accepted.
//
// Build (GOPATH mode, no network): see build.sh.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	_ "github.com/vmware/govmomi/vapi/simulator" // REST endpoints (/rest, /api: tags, ...)
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0 = pick a free port)")
	datacenters := flag.Int("datacenters", 1, "number of datacenters")
	clusters := flag.Int("clusters", 1, "clusters per datacenter")
	clusterHosts := flag.Int("cluster-hosts", 3, "hosts per cluster")
	hosts := flag.Int("hosts", 1, "standalone hosts per datacenter")
	vms := flag.Int("vms", 2, "VMs per cluster and per standalone host resource pool")
	instanceUUID := flag.String("instance-uuid", vpx.ServiceContent.About.InstanceUuid,
		"the vCenter's about.instanceUuid (give each simulator its own to act as different vCenters)")
	flag.Parse()

	// Catch signals from the start, so the datastore temp dirs are removed
	// even when stopped while the model is still being built.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	// simulator.VPX() gives a vCenter model; the counts below drive Create().
	m := simulator.VPX()
	m.Datacenter = *datacenters
	m.Cluster = *clusters
	m.ClusterHost = *clusterHosts
	m.Host = *hosts
	m.Machine = *vms
	// Create() copies m.ServiceContent into the ServiceInstance, so About is
	// set here. (govmomi 0.24.2 means to give each VPX a random UUID but
	// assigns it to a copy, so without this flag every run reports vpx's
	// fixed value.)
	m.ServiceContent.About.InstanceUuid = *instanceUUID
	if err := m.Create(); err != nil {
		log.Fatalf("vcsim: creating model: %v", err)
	}
	defer m.Remove() // removes the temporary local datastore directories

	// Needed for the vapi side-effect import to register its REST handlers.
	m.Service.RegisterEndpoints = true
	m.Service.Listen = &url.URL{Host: "127.0.0.1:" + strconv.Itoa(*port)}
	s := m.Service.NewServer() // starts listening (plain HTTP: TLS is nil)
	defer s.Close()

	// s.URL carries the default credentials (user:pass@); print it without them.
	u := *s.URL
	u.User = nil
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "VCSIM_URL=%s\n", u.String())
	if err := out.Flush(); err != nil {
		log.Fatalf("vcsim: writing URL: %v", err)
	}

	<-sig // deferred Close and Remove run on return
}
