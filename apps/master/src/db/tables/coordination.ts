/** The shared login limiter's counts and the once-only jobs' leases (migration 21). */
export interface CoordinationTables {
  login_attempts: LoginAttemptsTable;
  login_known: LoginKnownTable;
  job_leases: JobLeasesTable;
}

export interface LoginAttemptsTable {
  /** `<scope>:ip:<address>`, `<scope>:pair:<account>|<address>` or `<scope>:user:<account>`. */
  key: string;
  /** Recent attempts' epoch milliseconds, oldest first, comma-separated ('' for none). */
  attempts: string;
  /** The last attempt plus the window: the row is swept after it. */
  expires_at: number;
}

export interface LoginKnownTable {
  /** `<scope>:<account>|<address>`. */
  key: string;
  signed_in_at: number;
}

export interface JobLeasesTable {
  name: string;
  holder: string;
  /** Raised on every change of holder: a write checked against it is refused to a stale holder. */
  fence: number;
  expires_at: number;
}
