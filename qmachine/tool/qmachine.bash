# bash completion for qmachine(1)
#
# Copyright 2026 The qmachine authors
# SPDX-License-Identifier: LGPL-2.1-or-later

_qmachine ()
{
  local cur prev words cword
  _init_completion -n = || return

  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W 'run qmp agent version help --help --version' -- "$cur"))
    return
  fi

  case ${words[1]} in
    run)
      # After --, QEMU's own arguments: complete file names.
      local i
      for ((i = 2; i < cword; i++)); do
        if [ "${words[i]}" = "--" ]; then
          _filedir
          return
        fi
      done
      case $prev in
        -b|--binary)
          COMPREPLY=($(compgen -c -- "$cur"))
          return ;;
        --log-dir)
          _filedir -d
          return ;;
        --console-log)
          _filedir
          return ;;
      esac
      COMPREPLY=($(compgen -W '--help -b --binary -c --console --console-log --log-dir
                                -w --wait-for -t --timeout -q --qmp-shell -a --guest-agent
                                --' -- "$cur"))
      ;;
    qmp)
      if [ "$cword" -eq 2 ]; then
        _filedir
      fi
      ;;
    agent)
      # qmachine agent [-t SECONDS] SOCKET VERB ...
      local first=2
      [ "${words[2]}" = "-t" ] && first=4
      if [ "$cword" -eq 2 ] && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '-t --help' -- "$cur"))
      elif [ "$cword" -eq "$first" ]; then
        _filedir
      elif [ "$cword" -eq $((first + 1)) ]; then
        COMPREPLY=($(compgen -W 'ping info exec cat cp cmd' -- "$cur"))
      elif [ "${words[first + 1]}" = "cp" ]; then
        _filedir
      fi
      ;;
  esac
}
complete -F _qmachine qmachine
