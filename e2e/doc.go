// Package e2e holds rollwave's end-to-end tests of the pipeline: the four workers run as separate
// processes built from services/*, against moto (SQS, EventBridge) and the fleet simulator
// tools/fleetsim (ECS, SSM, EC2), started by tools/harness. The tests assert on what an operator
// could observe: fleetsim's report and state, the pipeline events routed from EventBridge into a
// results queue, and the dead-letter queues. The package has no code besides its tests.
//
// Every test that starts the pipeline is also held, when it ends and before anything stops, to
// the promises rollwave keeps in any rollout (invariants_test.go), from fleetsim's report: no
// cluster ever had more instances out of service (not ACTIVE or agent disconnected, whoever put
// them there) than the limit the workers were started with, nor the clusters together more than
// the global limit; no service ran below its floor; nothing is left DRAINING except instances
// parked failed with a reason; no instance keeps rollwave.job or rollwave.stage once its job ended
// or the job queues are empty. A test that breaks one on purpose says which and why
// (pipeline.breaks).
package e2e
