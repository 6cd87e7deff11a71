package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// KinesaliteServer is a kinesalite that a test can kill and start again on
// the same port, keeping its streams and records: it persists to a
// LevelDB directory (kinesalite's `path` option; leveldown loads its
// prebuilt linux-x64 binding, no compiler needed). Use it to take "Kinesis"
// away mid-load.
type KinesaliteServer struct {
	// URL is the endpoint, http://127.0.0.1:PORT; it stays the same across
	// restarts.
	URL string
	// Dir holds the LevelDB data.
	Dir string

	t    testing.TB
	port int
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// KinesaliteProcess starts a restartable, persistent kinesalite on a free
// 127.0.0.1 port. It is killed when the test ends.
func KinesaliteProcess(t testing.TB) *KinesaliteServer {
	t.Helper()
	k := &KinesaliteServer{t: t, port: FreePort(t), Dir: t.TempDir(), out: &syncBuffer{}}
	k.URL = "http://127.0.0.1:" + strconv.Itoa(k.port)
	t.Cleanup(func() {
		k.Kill()
		if t.Failed() {
			t.Logf("output of kinesalite:\n%s", tail(k.out.String(), 8000))
		}
	})
	k.Start()
	return k
}

// Start starts kinesalite again (after Kill) on the same port and data.
func (k *KinesaliteServer) Start() {
	k.t.Helper()
	if k.cmd != nil {
		k.t.Fatal("kinesalite already running")
	}
	mods := NodeModules(k.t)
	script := fmt.Sprintf(`require(%q)({path: %q, createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50}).listen(%d, '127.0.0.1', () => console.log('kinesalite listening'))`,
		filepath.Join(mods, "kinesalite"), k.Dir, k.port)
	cmd := exec.Command(Node(k.t), "-e", script)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = k.out, k.out
	setProcessGroup(cmd)
	// The port was just released by the killed process; a listener in
	// TIME_WAIT does not block a new bind, but a slow exit might.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := cmd.Start(); err != nil {
			k.t.Fatalf("starting kinesalite: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		if k.waitListening(done) {
			k.cmd, k.done = cmd, done
			return
		}
		killGroup(cmd) // it exited, or hangs without listening
		<-done
		if time.Now().After(deadline) {
			k.t.Fatalf("kinesalite did not come up on port %d:\n%s", k.port, tail(k.out.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
		cmd = exec.Command(cmd.Path, cmd.Args[1:]...)
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = k.out, k.out
		setProcessGroup(cmd)
	}
}

// waitListening waits until the server accepts connections or the process exits.
func (k *KinesaliteServer) waitListening(exited chan struct{}) bool {
	addr := "127.0.0.1:" + strconv.Itoa(k.port)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := dialQuick(addr); err == nil {
			c.Close()
			return true
		}
		time.Sleep(30 * time.Millisecond)
	}
	return false
}

// Kill stops kinesalite with SIGKILL, as a crash would, and waits for it to
// exit. What it had written to LevelDB survives (the OS keeps the
// unsynced writes of a killed process).
func (k *KinesaliteServer) Kill() {
	if k.cmd == nil {
		return
	}
	killGroup(k.cmd)
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		k.t.Errorf("kinesalite did not exit after SIGKILL")
	}
	k.cmd = nil
}

// KinesisClient returns a Kinesis client for a kinesalite endpoint, built
// without loading any AWS configuration (no credentials lookups, no network
// but the endpoint).
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// CreateStream creates a stream with the given number of shards and waits
// until it is ACTIVE. An existing stream is left as it is.
func CreateStream(t testing.TB, c *kinesis.Client, name string, shards int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		t.Fatalf("creating stream %s: %v", name, err)
	}
	for {
		out, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("describing stream %s: %v", name, err)
		}
		if out.StreamDescription.StreamStatus == types.StreamStatusActive {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StreamRecord is a record read back from a stream.
type StreamRecord struct {
	ShardID        string
	PartitionKey   string
	SequenceNumber string
	Data           []byte
}

// ReadStream reads every record in the stream, shard by shard from the
// oldest, each shard's records in sequence order.
func ReadStream(t testing.TB, c *kinesis.Client, name string) []StreamRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var shards []types.Shard
	var next *string
	for {
		in := &kinesis.ListShardsInput{NextToken: next}
		if next == nil {
			in.StreamName = aws.String(name)
		}
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("listing shards of %s: %v", name, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		next = out.NextToken
	}
	var all []StreamRecord
	for _, sh := range shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("shard iterator for %s/%s: %v", name, aws.ToString(sh.ShardId), err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatalf("GetRecords on %s/%s: %v", name, aws.ToString(sh.ShardId), err)
			}
			for _, r := range out.Records {
				all = append(all, StreamRecord{ShardID: aws.ToString(sh.ShardId), PartitionKey: aws.ToString(r.PartitionKey),
					SequenceNumber: aws.ToString(r.SequenceNumber), Data: r.Data})
			}
			if len(out.Records) == 0 && (out.MillisBehindLatest == nil || *out.MillisBehindLatest == 0) {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return all
}

func dialQuick(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 200*time.Millisecond)
}
