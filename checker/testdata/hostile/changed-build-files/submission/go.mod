module github.com/racelab/racelab

go 1.25

replace github.com/stretchr/testify => ./nowhere
