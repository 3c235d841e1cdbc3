module racelab.dev/doctorcorpus

go 1.26
