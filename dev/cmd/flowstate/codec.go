package main

import (
	"flag"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/adapter"
)

// codecFlags are the flags of the commands that start or read runs whose payloads a codec
// encodes (encrypts, say): they decode and encode through the codec server at an endpoint, as the
// Temporal CLI and Web UI do. $TEMPORAL_CODEC_ENDPOINT and $TEMPORAL_CODEC_AUTH, or the codec of
// the Temporal config profile, give the defaults.
type codecFlags struct {
	endpoint, auth string
}

func addCodecFlags(fs *flag.FlagSet) *codecFlags {
	cf := &codecFlags{}
	fs.StringVar(&cf.endpoint, "codec-endpoint", "", "`URL` of the codec server that encodes and decodes the runs' payloads (default $TEMPORAL_CODEC_ENDPOINT)")
	fs.StringVar(&cf.auth, "codec-auth", "", "Authorization header sent to the codec server (default $TEMPORAL_CODEC_AUTH)")
	return cf
}

// apply sets the client's DataConverter to the remote codec, when one is configured, and returns
// the options that make ReadHistory decode closed runs' memos with it.
func (cf *codecFlags) apply(opts *client.Options) ([]adapter.ReadOption, error) {
	if cf == nil {
		return nil, nil
	}
	endpoint, auth := cf.endpoint, cf.auth
	if endpoint == "" {
		prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading Temporal connection settings: %w", err)
		}
		if prof.Codec != nil {
			endpoint = prof.Codec.Endpoint
			if auth == "" {
				auth = prof.Codec.Auth
			}
		}
	}
	if endpoint == "" {
		return nil, nil
	}
	ns := orDefault(opts.Namespace, client.DefaultNamespace)
	dc := converter.NewRemoteDataConverter(converter.GetDefaultDataConverter(), converter.RemoteDataConverterOptions{
		Endpoint: endpoint,
		ModifyRequest: func(req *http.Request) error {
			req.Header.Set("X-Namespace", ns)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			return nil
		},
	})
	opts.DataConverter = dc
	return []adapter.ReadOption{adapter.WithDataConverter(dc)}, nil
}
