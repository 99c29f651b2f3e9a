// Package testcodec is the encrypting payload codec of flowstate's tests: AES-GCM with a fixed
// test key, what a team that encrypts its payloads installs on its clients and workers.
package testcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Encoding is the metadata encoding of the payloads the codec encrypted.
const Encoding = "binary/encrypted"

// key is the test key: never use a key written in code outside tests.
var key = []byte("flowstate-test-key-32-bytes-long")

// AES encrypts every payload with AES-GCM.
type AES struct{ aead cipher.AEAD }

var _ converter.PayloadCodec = (*AES)(nil)

// NewAES returns the codec, with the test key.
func NewAES() *AES {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // the key has a valid length
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &AES{aead: aead}
}

// DataConverter returns the SDK's default DataConverter with the codec.
func DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewAES())
}

// Encode encrypts each payload whole (metadata included).
func (c *AES) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, c.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding)},
			Data:     c.aead.Seal(nonce, nonce, plain, nil),
		}
	}
	return out, nil
}

// Decode decrypts the payloads it encrypted and passes the others through.
func (c *AES) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		n := c.aead.NonceSize()
		if len(p.GetData()) < n {
			return nil, errors.New("testcodec: encrypted payload too short")
		}
		plain, err := c.aead.Open(nil, p.GetData()[:n], p.GetData()[n:], nil)
		if err != nil {
			return nil, err
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, err
		}
		out[i] = &decoded
	}
	return out, nil
}
