// Package serve serves DeepConf behind an OpenAI-compatible API.
package serve
