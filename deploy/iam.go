package deploy

// TaskRoleActions lists, per worker, the AWS actions its task role grants: exactly the SDK
// operations the worker's code can reach (TestTaskRoleActionsAreTheCallsOfTheCode derives them
// from the code) and exactly the actions of its policy in terraform/modules/rollwave/iam.tf
// (TestTerraformGrantsExactlyTheTaskRoleActions). A worker that starts calling a new API fails
// the first test until the action is added here, and the second until the Terraform grants it.
var TaskRoleActions = map[string][]string{
	"scanner": {
		"autoscaling:DescribeAutoScalingGroups",
		"cloudwatch:PutMetricData",
		"ec2:CreateLaunchTemplateVersion", "ec2:DescribeInstances", "ec2:DescribeLaunchTemplateVersions", "ec2:ModifyLaunchTemplate",
		"ecs:DeleteAttributes", "ecs:DescribeClusters", "ecs:DescribeContainerInstances", "ecs:ListClusters", "ecs:ListContainerInstances",
		"ecs:PutAttributes", "ecs:UpdateContainerInstancesState",
		"events:PutEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage",
		"ssm:GetCommandInvocation", "ssm:GetParameter", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:SendCommand",
	},
	"patcher": {
		"cloudwatch:PutMetricData",
		"ecs:DeleteAttributes", "ecs:DescribeClusters", "ecs:DescribeContainerInstances", "ecs:DescribeTasks", "ecs:ListClusters",
		"ecs:ListContainerInstances", "ecs:ListTasks", "ecs:PutAttributes", "ecs:UpdateContainerInstancesState",
		"events:PutEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage",
		"sqs:ListQueueTags", "sqs:TagQueue",
		"ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:SendCommand",
	},
	"drainer": {
		"cloudwatch:DescribeAlarms", "cloudwatch:PutMetricData",
		"ecs:DeleteAttributes", "ecs:DescribeClusters", "ecs:DescribeContainerInstances", "ecs:DescribeServices", "ecs:DescribeTasks",
		"ecs:ListClusters", "ecs:ListContainerInstances", "ecs:ListServices", "ecs:ListTasks", "ecs:PutAttributes", "ecs:StopTask", "ecs:UpdateContainerInstancesState",
		"events:PutEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage",
		"sqs:ListQueueTags", "sqs:TagQueue",
		"ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:SendCommand",
	},
	"verifier": {
		"cloudwatch:PutMetricData",
		"ecs:DeleteAttributes", "ecs:DescribeClusters", "ecs:DescribeContainerInstances", "ecs:ListClusters",
		"ecs:ListContainerInstances", "ecs:PutAttributes", "ecs:UpdateContainerInstancesState",
		"events:PutEvents",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage",
		"sqs:ListQueueTags", "sqs:TagQueue",
		"ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:SendCommand",
	},
}

// Unscopable lists the actions a task role may grant on Resource "*" without a condition, with
// the reason: AWS authorizes them on no resource type (the Service Authorization Reference lists
// none), so no ARN or condition key can narrow them. terraform/README.md repeats the reasons.
var Unscopable = map[string]string{
	"ssm:GetCommandInvocation":              "reads the result of a command by its ID; SSM defines no resource type for it",
	"ssm:ListCommandInvocations":            "lists a command's invocations and their output (one look per command instead of one per instance); no resource type",
	"ssm:ListCommands":                      "lists commands (the patcher asks whether a reboot was already sent; a wait on many commands learns which ended); no resource type",
	"ssm:DescribeInstanceInformation":       "reads the SSM agent's ping status; no resource type",
	"ecs:ListClusters":                      "lists the account's clusters (ROLLWAVE_CLUSTER_TAG: every worker resolves the clusters it manages); ECS defines no resource type for it",
	"ec2:DescribeInstances":                 "finds the Auto Scaling group of each host (its tag aws:autoscaling:groupName); EC2's Describe actions authorize no resource type",
	"ec2:DescribeLaunchTemplateVersions":    "reads the image of the template version a group launches; EC2's Describe actions authorize no resource type",
	"autoscaling:DescribeAutoScalingGroups": "reads which launch template and version a group launches; Auto Scaling's Describe actions authorize no resource type",
}
