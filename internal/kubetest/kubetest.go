package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceCIDRs is the API server's --service-cluster-ip-range. It is dual
// stack, so Services with ipFamilyPolicy RequireDualStack get an IPv4 and an
// IPv6 ClusterIP.
const ServiceCIDRs = "10.96.0.0/16,fd00:10:96::/112"

// DefaultReadyTimeout bounds the wait for readiness when the context passed
// to Start or StartAPIServer has no deadline.
const DefaultReadyTimeout = 2 * time.Minute

// Options tune Start. The zero value is what most tests want.
type Options struct {
	// BinDir holds the etcd and kube-apiserver binaries; empty means BinDir().
	BinDir string
	// APIServerArgs are appended to the kube-apiserver command line. A scalar
	// flag given again overrides the default; a list flag is extended.
	APIServerArgs []string
}

// Cluster is a running etcd and kube-apiserver. Its methods are safe for
// concurrent use, but stopping the API server affects every test using it.
type Cluster struct {
	// Dir holds etcd's data, certificates, kubeconfigs and the servers' logs
	// (etcd.log, apiserver.log). Stop removes it.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Config is the admin client config (group system:masters, client side
	// rate limit 1000 QPS). It is shared: rest.CopyConfig it before changing it.
	Config *rest.Config
	// Client is an admin clientset built from Config.
	Client kubernetes.Interface
	// Server is the API server's URL, https://127.0.0.1:PORT.
	Server string
	// Token is the admin bearer token.
	Token string

	opts    Options
	etcdURL string
	apiPort int
	seq     atomic.Int64 // names namespaces and kubeconfig files

	mu        sync.Mutex
	etcd, api *proc
}

// live holds the clusters not yet stopped, for Main's signal handler.
var live sync.Map // *Cluster -> nil

// Start starts etcd and kube-apiserver on free loopback ports under a new
// temporary directory and waits until the API server's /readyz is ok. Stop
// must be called to kill both and remove the directory. The servers outlive
// ctx, which only bounds the wait (DefaultReadyTimeout if it has no deadline).
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.BinDir == "" {
		if opts.BinDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	sweep()
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, opts: opts, Token: randHex(16)}
	live.Store(c, nil)
	defer func() {
		if err != nil {
			c.stop(true)
			err = fmt.Errorf("kubetest: %w (logs in %s)", err, dir)
		}
	}()
	if err = os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if err = c.writeAuthFiles(); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	// A free port can be taken between choosing and binding it (parallel
	// test binaries do this too), so each server gets one more try.
	for try := 0; ; try++ {
		if err = c.startEtcd(ctx); err == nil || try == 1 || !portClash(c.etcd) {
			break
		}
		_ = os.RemoveAll(filepath.Join(dir, "etcd"))
	}
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		if c.apiPort, err = freePort(); err != nil {
			return nil, err
		}
		if err = c.startAPIServer(ctx); err == nil || try == 1 || !portClash(c.api) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err = c.writeAdminConfig(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop kills the API server and etcd and removes Dir. It is idempotent.
func (c *Cluster) Stop() { c.stop(false) }

func (c *Cluster) stop(keepDir bool) {
	live.Delete(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.api.kill()
	c.etcd.kill()
	c.api, c.etcd = nil, nil
	if keepDir {
		// The logs are for the user, and no longer for sweep; etcd's data
		// is big and of little use without an API server.
		_ = os.Remove(filepath.Join(c.Dir, ownerFile))
		_ = os.RemoveAll(filepath.Join(c.Dir, "etcd"))
	} else {
		_ = os.RemoveAll(c.Dir)
	}
}

// PIDs are the process IDs of etcd and kube-apiserver, those running.
func (c *Cluster) PIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, p := range []*proc{c.etcd, c.api} {
		if p != nil && p.cmd.Process != nil {
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

// StopAPIServer kills kube-apiserver (SIGKILL: connections are reset, not
// drained) and leaves etcd running, so StartAPIServer brings back the same
// objects.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return errors.New("kubetest: the API server is not running")
	}
	c.api.kill()
	c.api = nil
	return nil
}

// StartAPIServer starts kube-apiserver again on the same port, with the same
// certificates and tokens, so Config, Client and kubeconfigs stay valid; it
// waits for /readyz. It fails if something else took the port meanwhile.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.etcd == nil:
		return errors.New("kubetest: the cluster is stopped")
	case c.api != nil:
		return errors.New("kubetest: the API server is already running")
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := c.startAPIServer(ctx); err != nil {
		c.api.kill() // it may be up but not ready; a retry needs the port
		c.api = nil
		return fmt.Errorf("kubetest: %w", err)
	}
	return nil
}

// KubeconfigFor writes a kubeconfig that authenticates as admin but
// impersonates user and groups (kubeconfig fields as and as-groups), and
// returns its path. For a ServiceAccount pass
// "system:serviceaccount:NS:NAME" and no groups: the API server then adds
// the ServiceAccount groups itself. With no RBAC bindings the user is
// authenticated but forbidden almost everything.
func (c *Cluster) KubeconfigFor(user string, groups ...string) (string, error) {
	path := filepath.Join(c.Dir, fmt.Sprintf("kubeconfig-%d-%s", c.seq.Add(1), dnsLabel(user, 40)))
	auth := &clientcmdapi.AuthInfo{Token: c.Token, Impersonate: user, ImpersonateGroups: groups}
	if err := c.writeKubeconfig(path, auth); err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	return path, nil
}

// Namespace creates a namespace for one test, named after it and unique in
// this cluster, and returns its name. It is not deleted afterwards: without
// a controller-manager it would stay Terminating anyway.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", dnsLabel(t.Name(), 50), c.seq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubetest: create namespace %s: %v", name, err)
	}
	return name
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	c.etcd, err = startProc(filepath.Join(c.opts.BinDir, "etcd"), filepath.Join(c.Dir, "etcd.log"),
		"--name=kubetest",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+c.etcdURL,
		"--advertise-client-urls="+c.etcdURL,
		// The default peer port, 2380, would clash between parallel packages.
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=kubetest="+peer,
		// The data is thrown away after the test; fsync only costs time.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	return waitReady(ctx, "etcd", c.etcd, func() bool {
		resp, err := http.Get(c.etcdURL + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`)
	})
}

// startAPIServer expects c.mu held or c not yet shared.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", c.apiPort)
	args := append([]string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", c.apiPort),
		// The API server makes a self-signed certificate here once and reuses
		// it after a restart, so clients keep trusting it.
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
		"--token-auth-file=" + filepath.Join(c.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + ServiceCIDRs,
		// There is no other API server whose endpoints need reconciling.
		"--endpoint-reconciler-type=none",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(c.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(c.Dir, "sa.key"),
	}, c.opts.APIServerArgs...)
	var err error
	c.api, err = startProc(filepath.Join(c.opts.BinDir, "kube-apiserver"), filepath.Join(c.Dir, "apiserver.log"), args...)
	if err != nil {
		return err
	}
	// The certificate may be half written while the server starts, so
	// readiness is probed without verifying it; clients verify it later.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer hc.CloseIdleConnections()
	return waitReady(ctx, "kube-apiserver", c.api, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && string(body) == "ok"
	})
}

func (c *Cluster) writeAuthFiles() error {
	tokens := fmt.Sprintf("%s,admin,kubetest-admin,\"system:masters\"\n", c.Token)
	if err := os.WriteFile(filepath.Join(c.Dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}
	// kube-apiserver does not start without a ServiceAccount token key pair,
	// though no test here needs the tokens.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(c.Dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func (c *Cluster) writeAdminConfig(ctx context.Context) error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := c.writeKubeconfig(c.Kubeconfig, &clientcmdapi.AuthInfo{Token: c.Token}); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	// Tests create objects in bursts; client-go's default 5 QPS only slows them.
	cfg.QPS, cfg.Burst = 1000, 2000
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	// Proves the kubeconfig (certificate, token, RBAC) before a test relies on it.
	_, err = c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	return err
}

func (c *Cluster) writeKubeconfig(path string, auth *clientcmdapi.AuthInfo) error {
	ca, err := os.ReadFile(filepath.Join(c.Dir, "certs", "apiserver.crt"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: ca}
	cfg.AuthInfos["kubetest"] = auth
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest"}
	cfg.CurrentContext = "kubetest"
	return clientcmd.WriteToFile(*cfg, path)
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultReadyTimeout)
}

var notLabel = regexp.MustCompile(`[^a-z0-9]+`)

// dnsLabel turns s into a valid, readable DNS label of at most n bytes.
func dnsLabel(s string, n int) string {
	s = notLabel.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > n {
		s = s[:n]
	}
	if s = strings.Trim(s, "-"); s == "" {
		s = "x"
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
