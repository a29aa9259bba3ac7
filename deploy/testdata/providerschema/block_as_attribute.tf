resource "aws_cloudwatch_event_target" "t" {
  rule              = "r"
  arn               = "arn:aws:sns:eu-west-1:123456789012:t"
  input_transformer = { input_template = "\"x\"" }
}
