// Whether a sandbox can run here, and if not, why and how to fix it, in words
// a user can act on. Pure: the probe itself (spawning bwrap) happens in
// src/commands/sandbox-probe.ts, which hands its findings to these functions.

export type SandboxMode = 'required' | 'auto' | 'off';
export const SANDBOX_MODES: readonly SandboxMode[] = ['required', 'auto', 'off'];

export type SandboxSupport =
  | { ok: true; kind: 'bwrap'; binary: string; env: string; perms: boolean; version?: string }
  | { ok: true; kind: 'sandbox-exec'; binary: string }
  | { ok: false; reason: string; fix: string };

/** The sysctls that decide whether an unprivileged user may create user namespaces. */
export interface UsernsSysctls {
  /** Debian's and some hardened kernels' switch: 0 = off. */
  'kernel.unprivileged_userns_clone'?: string;
  /** 0 = no user namespaces at all. */
  'user.max_user_namespaces'?: string;
  /** Ubuntu 23.10+: 1 = only programs with an AppArmor profile that allows it. */
  'kernel.apparmor_restrict_unprivileged_userns'?: string;
}

export function describeMissingSandbox(platform: NodeJS.Platform): { reason: string; fix: string } {
  switch (platform) {
    case 'linux':
      return { reason: 'bubblewrap (bwrap) is not installed', fix: 'sudo apt install bubblewrap (or: dnf install bubblewrap, pacman -S bubblewrap)' };
    case 'darwin':
      return { reason: 'sandbox-exec is not on PATH', fix: 'it ships with macOS in /usr/bin: check PATH' };
    default:
      return { reason: `agentauth has no sandbox for ${platform}`, fix: 'run untrusted agents as another user or in a VM' };
  }
}

/**
 * Why bwrap could not set up a sandbox, from its message and the sysctls.
 * As root bwrap needs no user namespace, so there a failure means a
 * container (or a seccomp policy) forbids namespaces altogether.
 */
export function diagnoseBwrapFailure(message: string, sysctls: UsernsSysctls, uid: number): { reason: string; fix: string } {
  const said = message.trim().split('\n').filter(Boolean).at(-1) ?? 'no message';
  if (/unrecognized option|invalid option|unknown option/i.test(message) && /env/.test(message)) {
    return { reason: `env cannot reset signal dispositions (${said})`, fix: 'install GNU coreutils 8.31 or later (env --default-signal)' };
  }
  if (uid !== 0) {
    if (sysctls['user.max_user_namespaces'] === '0') {
      return {
        reason: 'user namespaces are disabled on this machine (user.max_user_namespaces = 0)',
        fix: 'sudo sysctl -w user.max_user_namespaces=15000 (keep it in /etc/sysctl.d/ to survive a reboot)',
      };
    }
    if (sysctls['kernel.unprivileged_userns_clone'] === '0') {
      return {
        reason: 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)',
        fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1 (keep it in /etc/sysctl.d/ to survive a reboot)',
      };
    }
    if (sysctls['kernel.apparmor_restrict_unprivileged_userns'] === '1') {
      return {
        reason: 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1) and bwrap has no profile that allows them',
        fix: 'enable the bwrap profile: sudo ln -s /usr/share/apparmor/extra-profiles/bwrap-userns-restrict /etc/apparmor.d/ && sudo apparmor_parser -r /etc/apparmor.d/bwrap-userns-restrict (or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)',
      };
    }
  }
  if (/proc/.test(said) && /mount/i.test(said)) {
    return {
      reason: `bwrap cannot mount /proc here, as in a container that masks parts of it (${said})`,
      fix: 'run the container with --security-opt systempaths=unconfined, or keep the agent isolated by the container itself and use --no-sandbox',
    };
  }
  if (/namespace|Operation not permitted|Permission denied/i.test(said)) {
    return {
      reason: `bwrap may not create namespaces here (${said})`,
      fix:
        uid === 0
          ? 'in a container: allow namespaces (e.g. docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined), or use --no-sandbox'
          : 'allow unprivileged user namespaces (sysctls kernel.unprivileged_userns_clone, user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns), or use --no-sandbox',
    };
  }
  return { reason: `bwrap failed: ${said}`, fix: 'run: agentauth doctor, and report it if the cause is unclear' };
}

/** bubblewrap's version from `bwrap --version` ("bubblewrap 0.8.0"). */
export function parseBwrapVersion(text: string): string {
  return /\d+\.\d+(?:\.\d+)?/.exec(text)?.[0] ?? 'unknown';
}
