#!/bin/sh
# Runs each unit test binary under valgrind memcheck: zero errors, zero
# leaks. Ends with "valgrind: N passed, N failed" (one per binary).
set -u
passed=0
failed=0
for t in "$@"; do
	if valgrind -q --error-exitcode=99 --leak-check=full \
	    --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    "$t" >/dev/null 2>"$t.valgrind"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "!! $t: valgrind reports errors or leaks:"
		tail -40 "$t.valgrind"
	fi
done
echo
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
