package watch_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slicedns/slicedns/watch"
	"github.com/slicedns/slicedns/zone"
)

// The folder from the package documentation: a headless Service and its
// slice, answering A and SRV.
func ExampleManifests_packageDoc() {
	dir, err := os.MkdirTemp("", "manifests")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	err = os.WriteFile(filepath.Join(dir, "db.yaml"), []byte(`apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: shop
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints:
- addresses: [10.0.0.7]
  hostname: db-0
`), 0o644)
	if err != nil {
		panic(err)
	}

	z := zone.New()
	src := &watch.Manifests{Dir: dir, Sink: z}
	if err := src.Load(); err != nil {
		panic(err)
	}
	// A program would now run src.Run(ctx) to follow edits.

	snap := z.Snapshot()
	for _, name := range []string{"db.shop.svc", "db-0.db.shop.svc"} {
		n, _ := snap.Lookup(name)
		fmt.Println(name, n.A().At(0))
	}
	n, _ := snap.Lookup("_pg._tcp.db.shop.svc")
	fmt.Println("_pg._tcp.db.shop.svc", n.SRV()[0].Port, n.Target(n.SRV()[0]).Name())
	// Output:
	// db.shop.svc 10.0.0.7
	// db-0.db.shop.svc 10.0.0.7
	// _pg._tcp.db.shop.svc 5432 db-0.db.shop.svc
}
