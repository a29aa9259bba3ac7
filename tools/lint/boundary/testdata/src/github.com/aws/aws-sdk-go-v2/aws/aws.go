// Package aws stands in for the AWS SDK: the analyzer judges import paths only.
package aws
