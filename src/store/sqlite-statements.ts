// Every SQL statement the SQLite store runs, prepared once per connection.
import type Database from 'better-sqlite3';

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertAgent: p('INSERT INTO agents (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    getAgent: p('SELECT id, name, created_at FROM agents WHERE name = ?'),
    listAgents: p('SELECT id, name, created_at FROM agents ORDER BY name'),
    // Foreign keys with ON DELETE CASCADE take the agent's sessions, messages, runs, tool calls and usage.
    deleteAgent: p('DELETE FROM agents WHERE name = ?'),

    insertSession: p(
      'INSERT INTO sessions (id, agent, key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent, key) DO NOTHING',
    ),
    getSession: p('SELECT id, agent, key, created_at FROM sessions WHERE agent = ? AND key = ?'),

    transcript: p('SELECT json FROM transcript WHERE session_id = ? ORDER BY seq'),
    nextTranscriptSeq: p('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM transcript WHERE session_id = ?'),
    insertTranscript: p('INSERT INTO transcript (session_id, seq, json) VALUES (?, ?, ?)'),

    insertMessage: p(
      'INSERT INTO messages (id, session_id, role, text, status, error, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?)',
    ),
    setMessageStatus: p('UPDATE messages SET status = ?, error = ? WHERE id = ?'),
    getMessage: p('SELECT * FROM messages WHERE id = ?'),
    // rowid breaks ties between messages stored within the same clock tick.
    listMessages: p('SELECT * FROM messages WHERE session_id = ? ORDER BY created_at, rowid'),

    insertRun: p(
      `INSERT INTO runs (id, session_id, message_id, status, stop_reason, error, started_at, ended_at)
       VALUES (?, ?, ?, 'running', NULL, NULL, ?, NULL)`,
    ),
    finishRun: p('UPDATE runs SET status = ?, stop_reason = ?, error = ?, ended_at = ? WHERE id = ?'),
    getRun: p('SELECT * FROM runs WHERE id = ?'),
    insertToolCall: p('INSERT INTO tool_calls (id, run_id, name, input) VALUES (?, ?, ?, ?)'),
    finishToolCall: p('UPDATE tool_calls SET output = ?, is_error = ?, duration_ms = ? WHERE id = ?'),
    listToolCalls: p('SELECT * FROM tool_calls WHERE run_id = ? ORDER BY rowid'),

    insertUsage: p(
      `INSERT INTO usage (agent, session_id, run_id, provider, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, created_at)
       VALUES (@agent, COALESCE(@sessionId, (SELECT session_id FROM runs WHERE id = @runId)), @runId,
         @provider, @model, @inputTokens, @outputTokens, @cacheReadTokens, @cacheWriteTokens, @createdAt)`,
    ),
    listUsage: p('SELECT * FROM usage WHERE (@agent IS NULL OR agent = @agent) ORDER BY id'),
    addUsageDaily: p(
      `INSERT INTO usage_daily (agent, day, provider, model, calls, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens)
       VALUES (@agent, @day, @provider, @model, 1, @inputTokens, @outputTokens, @cacheReadTokens, @cacheWriteTokens)
       ON CONFLICT (agent, day, provider, model) DO UPDATE SET calls = calls + 1,
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
         cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
         cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens`,
    ),
    dailyUsageTotals: p(
      `SELECT agent, provider, model, SUM(calls) AS calls, SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
         SUM(cache_write_tokens) AS cache_write_tokens
       FROM usage_daily
       WHERE agent = @agent AND day >= @sinceDay
       GROUP BY agent, provider, model ORDER BY agent, provider, model`,
    ),
    // ISO-8601 UTC timestamps of one format compare correctly as text.
    usageTotals: p(
      `SELECT agent, provider, model, COUNT(*) AS calls, SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
         SUM(cache_write_tokens) AS cache_write_tokens
       FROM usage
       WHERE (@agent IS NULL OR agent = @agent) AND (@since IS NULL OR created_at >= @since)
         AND (@until IS NULL OR created_at < @until)
       GROUP BY agent, provider, model ORDER BY agent, provider, model`,
    ),

    upsertSecret: p(
      `INSERT INTO secrets (name, nonce, ciphertext, tag, created_at, updated_at)
       VALUES (@name, @nonce, @ciphertext, @tag, @now, @now)
       ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext,
         tag = excluded.tag, updated_at = excluded.updated_at`,
    ),
    readSecret: p('SELECT nonce, ciphertext, tag FROM secrets WHERE name = ?'),
    listSecrets: p('SELECT name, created_at, updated_at FROM secrets ORDER BY name'),
    deleteSecret: p('DELETE FROM secrets WHERE name = ?'),
    upsertSecretBinding: p(
      `INSERT INTO secret_bindings (name, hosts, header, updated_at) VALUES (@name, @hosts, @header, @now)
       ON CONFLICT (name) DO UPDATE SET hosts = excluded.hosts, header = excluded.header,
         updated_at = excluded.updated_at`,
    ),
    deleteSecretBinding: p('DELETE FROM secret_bindings WHERE name = ?'),
    listSecretBindings: p('SELECT name, hosts, header, updated_at FROM secret_bindings ORDER BY name'),

    lastAudit: p('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
    insertAudit: p(
      `INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
       VALUES (@seq, @at, @actor, @action, @subject, @detail, @prevHash, @hash)`,
    ),
    // The newest `limit` entries (-1: all), returned oldest first.
    listAudit: p(
      `SELECT * FROM (
         SELECT * FROM audit WHERE (@subject IS NULL OR subject = @subject) ORDER BY seq DESC LIMIT @limit
       ) ORDER BY seq`,
    ),
    allAudit: p('SELECT * FROM audit ORDER BY seq'),
    getAudit: p('SELECT * FROM audit WHERE seq = ?'),
    queryAudit: p(
      `SELECT * FROM (
         SELECT * FROM audit
         WHERE (@agent IS NULL OR subject = @agent OR actor = 'agent:' || @agent)
           AND (@session IS NULL OR json_extract(detail, '$.sessionId') = @session)
           AND (@action IS NULL OR action = @action OR substr(action, 1, length(@action) + 1) = @action || '.')
           AND (@since IS NULL OR at >= @since)
         ORDER BY seq DESC LIMIT @limit
       ) ORDER BY seq`,
    ),
  };
}
