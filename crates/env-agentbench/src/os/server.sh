# lifeharness OS sandbox server (runs as PID 1 of the sandbox, chrooted into
# the episode's size-limited tmpfs). Reads one request per line on stdin:
#   <kind> <timeout-seconds> <base64 script> [<base64 arg>...]
# kind: sh (the agent's shell: cwd, variables, functions and aliases carry
# over between requests), bash or python (fresh `bash -c` / `python3 -c`
# process in /, as AgentBench's execute_independent). Answers one line:
#   __LH__ <exit code> <base64 output> <base64 stderr>
# (output is stdout+stderr for sh, stdout only for bash/python).
# Limits: LH_NPROC processes, LH_AS_KB address space per process.
ulimit -u "$LH_NPROC" 2>/dev/null
ulimit -v "$LH_AS_KB" 2>/dev/null
ulimit -c 0 2>/dev/null
__lh_max_out=$LH_MAX_OUT
__lh_nproc=$LH_NPROC
unset LH_NPROC LH_AS_KB LH_MAX_OUT
mkdir -p /usr/local/bin /usr/local/etc /usr/local/games /usr/local/include /usr/local/lib /usr/local/man /usr/local/sbin /usr/local/share /usr/local/src /root /tmp /home /var/tmp /var/log /var/lib /var/cache /var/spool/mail /var/mail /run /opt /srv /mnt /media /etc /boot
chmod 700 /root
chmod 1777 /tmp /var/tmp
cp -a /.lh-skel/. /etc/ 2>/dev/null
touch /.lh/vars
printf '/\n' > /.lh/cwd
cat > /.lh/runner <<'RUNNER'
cd -- "$(cat /.lh/cwd 2>/dev/null)" 2>/dev/null || cd /
. /.lh/vars 2>/dev/null
shopt -s expand_aliases
__lh_save() {
  __lh_rc=$?
  pwd > /.lh/cwd
  {
    for __lh_v in $(compgen -v); do
      case $__lh_v in
        BASH*|EUID|UID|PPID|SHELLOPTS|FUNCNAME|GROUPS|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCH*|COMP*|DIRSTACK|_|__lh_*) ;;
        *) declare -p "$__lh_v" 2>/dev/null ;;
      esac
    done
    declare -f
    alias -p
  } > /.lh/vars 2>/dev/null
  return $__lh_rc
}
trap __lh_save EXIT
. /.lh/cmd
RUNNER
__lh_decode() {
  # base64 to text, keeping trailing newlines
  local __v
  __v=$(printf '%s' "$1" | base64 -d; printf x)
  printf '%s' "${__v%x}"
}
mkfifo /.lh/tick && exec 9<>/.lh/tick
# Without forking (the process limit may be exhausted): when the sandbox is
# close to the process limit (a fork bomb left running in the background),
# kill every process but this server and wait until they are reaped.
__lh_reclaim() {
  local procs
  procs=(/proc/[0-9]*)
  [ "${#procs[@]}" -lt $((__lh_nproc - 16)) ] && return 1
  for ((__lh_i = 0; __lh_i < 50; __lh_i++)); do
    kill -9 -1 2>/dev/null
    read -t 0.1 -u 9
    procs=(/proc/[0-9]*)
    [ "${#procs[@]}" -lt 8 ] && break
  done
  return 0
}
printf '__LH_READY__\n'
while IFS=' ' read -r kind t payload rest; do
  __lh_decode "$payload" > /.lh/cmd
  args=()
  for a in $rest; do
    v=$(__lh_decode "$a"; printf x)
    args+=("${v%x}")
  done
  __lh_note=
  if __lh_reclaim; then
    __lh_note='[the process limit was reached: every process in the sandbox was killed]'
  fi
  : > /.lh/out
  : > /.lh/err
  if [ -n "$__lh_note" ]; then
    if [ "$kind" = sh ]; then printf '%s\n' "$__lh_note" > /.lh/out; else printf '%s\n' "$__lh_note" > /.lh/err; fi
  fi
  case $kind in
    sh)
      timeout -s KILL "$t" bash /.lh/runner >> /.lh/out 2>&1 < /dev/null
      rc=$?
      ;;
    bash)
      script=$(cat /.lh/cmd; printf x)
      (cd / && exec timeout -s KILL "$t" bash -c "${script%x}" -- "${args[@]}") > /.lh/out 2> /.lh/err < /dev/null
      rc=$?
      ;;
    python)
      script=$(cat /.lh/cmd; printf x)
      (cd / && exec timeout -s KILL "$t" python3 -c "${script%x}" "${args[@]}") > /.lh/out 2> /.lh/err < /dev/null
      rc=$?
      ;;
    *)
      printf 'unknown request kind\n' > /.lh/err
      rc=127
      ;;
  esac
  printf '__LH__ %s %s %s\n' "$rc" "$(head -c "$__lh_max_out" /.lh/out | base64 -w0)" "$(head -c 4096 /.lh/err | base64 -w0)"
  rm -f /.lh/out /.lh/err /.lh/cmd
done
