// The part of the OCI runtime specification (config.json, spec 1.0.2) that corral writes: typed here, no dependency.
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciRlimit {
  type: 'RLIMIT_NOFILE' | 'RLIMIT_FSIZE' | 'RLIMIT_CORE' | 'RLIMIT_NPROC';
  hard: number;
  soft: number;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: OciNamespaceType;
  /** join this existing namespace instead of creating one */
  path?: string;
}

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
export type SeccompOp = 'SCMP_CMP_MASKED_EQ' | 'SCMP_CMP_EQ';

export interface SeccompArg {
  index: number;
  /** for SCMP_CMP_MASKED_EQ: the mask */
  value: number;
  /** for SCMP_CMP_MASKED_EQ: what the masked argument must equal */
  valueTwo?: number;
  op: SeccompOp;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface OciSeccomp {
  defaultAction: SeccompAction;
  architectures: string[];
  syscalls: SeccompRule[];
}

export interface OciDeviceRule {
  allow: boolean;
  access: string;
}

export interface OciResources {
  devices: OciDeviceRule[];
  memory?: { limit: number; swap?: number };
  cpu?: { quota: number; period: number };
  pids?: { limit: number };
}

export interface OciConfig {
  ociVersion: '1.0.2';
  process: {
    terminal: false;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: {
      bounding: string[];
      effective: string[];
      inheritable: string[];
      permitted: string[];
      ambient: string[];
    };
    rlimits: OciRlimit[];
    noNewPrivileges: true;
    oomScoreAdj: number;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    uidMappings: OciIdMapping[];
    gidMappings: OciIdMapping[];
    namespaces: OciNamespace[];
    cgroupsPath: string;
    resources: OciResources;
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: OciSeccomp;
  };
}
