#!/usr/bin/env bash
# The layer check (`make check-layers`, part of `make test`): each folder of
# daemon/ may include only from the folders below it in the data flow
# (README "Source layout"); libbpf skeletons only in capture/ and main.c, the
# dashboard's generated file table (web_assets.h) only in api/.
# Prints each violation as file:line, then "N passed, N failed" (one check
# per folder).
set -u
cd "$(dirname "$0")/.." || exit 1
declare -A may=(
	[core]=""
	[capture]="core"
	[wire]="core"
	[llm]="core wire"
	[guard]="core"
	[call]="core wire llm guard"
	[sinks]="core llm guard call"
	[api]="core call sinks"
)
pass=0 fail=0
for layer in core capture wire llm guard call sinks api; do
	bad=0
	while IFS=: read -r file line text; do
		inc=${text#*\"}
		inc=${inc%%\"*}
		dir=${inc%%/*}
		[[ $inc == */* ]] || dir=""
		ok=0
		case $dir in
		"$layer" | llmobs) ok=1 ;; # its own folder; the BPF ABI (include/llmobs)
		"") [[ ($inc == *.skel.h && $layer == capture) || ($inc == web_assets.h && $layer == api) ]] && ok=1 ;;
		*) for d in ${may[$layer]}; do [[ $d == "$dir" ]] && ok=1; done ;;
		esac
		if ((!ok)); then
			echo "  $file:$line: $layer/ may not include \"$inc\" (allowed: ${may[$layer]:-none})"
			bad=1
		fi
	done < <(grep -rn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "daemon/$layer" --include='*.[ch]')
	if ((bad)); then fail=$((fail + 1)); echo "FAIL daemon/$layer"; else pass=$((pass + 1)); fi
done
echo "$pass passed, $fail failed"
((fail == 0))
