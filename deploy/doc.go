// Package deploy holds what ties the deployment artefacts (terraform/, docker-compose.yaml, the
// Dockerfiles) to the code: the IAM actions each service may call, the generator of the Terraform
// locals that mirror shared/topology and shared/ssmdoc, and the tests that fail when the two
// disagree.
package deploy
