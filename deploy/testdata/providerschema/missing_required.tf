resource "aws_ecs_service" "s" {
  network_configuration {
    security_groups = ["sg-1"]
  }
}

resource "aws_ecr_repository_policy" "p" {
  repository = "r"
}
