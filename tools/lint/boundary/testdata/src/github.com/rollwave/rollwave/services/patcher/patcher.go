package patcher
