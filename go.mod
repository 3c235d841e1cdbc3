module github.com/racelab/racelab

go 1.25

require (
	github.com/sasha-s/go-deadlock v0.3.9
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.5
)

require github.com/petermattis/goid v0.0.0-20250813065127-a731cc31b4fe // indirect
