package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/proofgrid/proofgrid"
)

// S3Config says where an S3 store keeps its objects.
type S3Config struct {
	// Bucket must exist.
	Bucket string
	// Prefix is put before every key ("proofgrid/" keeps keys under
	// proofgrid/); empty means the bucket's root.
	Prefix string
	// Endpoint is host[:port] of the service (default s3.amazonaws.com).
	Endpoint string
	// Insecure speaks plain HTTP to Endpoint.
	Insecure bool
	// Region is the bucket's region; empty lets the client ask.
	Region string
	// PathStyle addresses the bucket in the path rather than the host
	// name; the client picks path style for endpoints other than AWS's on
	// its own.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when empty, are read from
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
	AccessKeyID, SecretAccessKey string
	// Transport, when set, carries the requests (a custom CA, a test
	// server's TLS client).
	Transport http.RoundTripper
}

// ParseS3URL reads s3://bucket/prefix?endpoint=host:port&region=r, with
// optional insecure=true (plain HTTP) and path_style=true. An endpoint
// written as http://host:port is plain HTTP too.
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, fmt.Errorf("blob: s3 URL: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return S3Config{}, fmt.Errorf("blob: s3 URL %q: want s3://bucket/prefix?endpoint=...&region=...", raw)
	}
	if u.User != nil {
		return S3Config{}, errors.New("blob: s3 URL: credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not the URL")
	}
	q := u.Query()
	c := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if c.Prefix != "" {
		if !ValidKey(c.Prefix) {
			return S3Config{}, fmt.Errorf("blob: s3 URL: invalid prefix %q", c.Prefix)
		}
		c.Prefix += "/"
	}
	if s, ok := strings.CutPrefix(c.Endpoint, "http://"); ok {
		c.Endpoint, c.Insecure = s, true
	} else {
		c.Endpoint = strings.TrimPrefix(c.Endpoint, "https://")
	}
	for name, dst := range map[string]*bool{"insecure": &c.Insecure, "path_style": &c.PathStyle} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return S3Config{}, fmt.Errorf("blob: s3 URL: %s=%q is not a boolean", name, v)
			}
			*dst = *dst || b
		}
	}
	for name := range q {
		switch name {
		case "endpoint", "region", "insecure", "path_style":
		default:
			return S3Config{}, fmt.Errorf("blob: s3 URL: unknown parameter %q", name)
		}
	}
	return c, nil
}

// S3 is a Store in a bucket of Amazon S3 or a compatible service (MinIO,
// Ceph RGW, Garage, R2, ...). S3 itself makes a Put atomic: a reader sees
// the old object or the new one.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
}

var _ Store = (*S3)(nil)

// NewS3 returns a store on cfg's bucket. It does not check the bucket;
// Check does.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3 bucket is empty")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "s3.amazonaws.com"
	}
	creds := credentials.NewEnvAWS()
	if cfg.AccessKeyID != "" {
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, BucketLookup: lookup,
		Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("blob: s3: %w", err)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// Check reports whether the bucket exists and the credentials reach it.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: s3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("blob: s3 bucket %s does not exist", s.bucket)
	}
	return nil
}

func (s *S3) name(key string) (string, error) {
	if !ValidKey(key) {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "invalid blob key %q", key)
	}
	return s.prefix + key, nil
}

// smallObject is the most Put reads before it decides how to upload.
const smallObject = 1 << 20

// Put uploads r; an object over smallObject goes up in multipart parts of
// 16 MiB, so at most one part is held in memory.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	name, err := s.name(key)
	if err != nil {
		return 0, err
	}
	// An object that fits in the first read goes up as one PUT of known
	// length: a stream of unknown length would be sent without a
	// Content-Length, which S3 refuses for an empty object.
	head := make([]byte, smallObject)
	k, err := io.ReadFull(r, head)
	size := int64(-1)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		r, size = bytes.NewReader(head[:k]), int64(k)
	case err != nil:
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	default:
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	info, err := s.client.PutObject(ctx, s.bucket, name, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return info.Size, nil
}

// Open fetches the object's metadata first, so that a missing object is
// ENOTFOUND here rather than at the first Read.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.err("open", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.err("open", key, err)
	}
	return obj, nil
}

// Delete removes the object; S3 answers a missing one with success.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return s.err("delete", key, err)
	}
	return nil
}

func (s *S3) err(op, key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "object %s not found", key)
	}
	return fmt.Errorf("blob: %s %s: %w", op, key, err)
}
