// Package watch feeds a zone from where Services and EndpointSlices live:
// a Kubernetes cluster, or a folder of manifests.
//
// # Sources
//
// A source reads v1 Services and discovery.k8s.io/v1 EndpointSlices, slims
// each to the zone.Service or zone.Slice that DNS needs (ServiceFromAPI and
// SliceFromAPI, so every source refuses the same objects with the same
// messages), and hands the result to a [Sink]. There are two:
//
//   - [Manifests] serves the manifests in a folder, for a laptop or CI where
//     there is no cluster (slicedns --manifests DIR). It watches the folder
//     and applies each edit within about a second.
//   - [Kube] lists and watches a cluster's API server with client-go
//     reflectors: what slicedns runs in a cluster. It talks to the API server
//     through a [Client], which [NewClient] makes from [RESTConfig]'s config
//     without linking in client-go's clientset and its every API group; a
//     program that has a clientset can adapt it instead. NewClient's Client
//     also lets Kube's reflectors decode only the fields DNS reads (a start
//     with 100,000 endpoints allocates about a fifth less); an adapted
//     clientset decodes whole objects, as client-go does.
//
// Both follow the same life cycle: set the exported fields, start Run in a
// goroutine, and report readiness with Synced, which turns true once the
// first full state has reached the Sink. Manifests also has Load, which
// reads the folder once so that a program can fail at start, with a
// one-line reason, when the folder cannot be read.
//
// # Feeding a zone
//
// *zone.Zone is a Sink. A program that serves a folder of manifests:
//
//	z := zone.New()
//	src := &watch.Manifests{Dir: "./manifests", Sink: z, Logger: log}
//	if err := src.Load(); err != nil {
//		return err // the folder cannot be read
//	}
//	go src.Run(ctx)
//	// answer queries from z.Snapshot()
//
// A folder holds files like this one; any number of objects per file, in
// any order, with "---" between them:
//
//	apiVersion: v1
//	kind: Service
//	metadata: {name: db, namespace: shop}
//	spec:
//	  clusterIP: None
//	  ports: [{name: pg, port: 5432}]
//	---
//	apiVersion: discovery.k8s.io/v1
//	kind: EndpointSlice
//	metadata:
//	  name: db-1
//	  namespace: shop
//	  labels: {kubernetes.io/service-name: db}
//	addressType: IPv4
//	ports: [{name: pg, port: 5432}]
//	endpoints:
//	- addresses: [10.0.0.7]
//	  hostname: db-0
//
// which answers db.shop.svc and db-0.db.shop.svc with 10.0.0.7 and
// _pg._tcp.db.shop.svc with an SRV record.
//
// To observe or filter what a source applies, wrap the zone in a Sink of
// your own. Sources call their Sink from one goroutine at a time, and apply
// a change as upserts of what is new before deletes of what is gone, so a
// name that exists before and after a change never stops resolving.
//
// # Invalid objects
//
// An object that cannot be served (an address that does not parse, a name
// that is not a DNS label, a ClusterIP Service without a cluster IP, a slice
// without its kubernetes.io/service-name label) is skipped with a log line
// and counted in [Metrics] as slicedns_invalid_objects_total; everything
// else keeps serving. An invalid new version of an object served keeps the
// previous version served. A nil *Metrics counts nothing.
package watch
