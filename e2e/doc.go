// Package e2e holds rollwave's end-to-end tests of the pipeline: the four workers run as separate
// processes built from services/*, against moto (SQS, EventBridge) and the fleet simulator
// tools/fleetsim (ECS, SSM, EC2), started by tools/harness. The tests assert on what an operator
// could observe: fleetsim's report and state, the pipeline events routed from EventBridge into a
// results queue, and the dead-letter queues. The package has no code besides its tests.
package e2e
