# The test command README.md gives.
bash scripts/test.sh
