/**
 * The architecture, checked: no import circles, the relay and the client share only protocol/,
 * and inside the relay every arrow runs down (see docs/architecture.md). `npm run lint:deps`.
 */
/** The relay's folders from the bottom up: a module may import its own folder and those below. */
const relayFloors = ['store', 'access', 'locks', 'room', 'cluster', 'backend', 'feed', 'webhooks', 'http']
/** relay/'s root modules that sit on top: they assemble the folders. */
const relayTop = '^relay/(server|connection|cli|cli-options|index)\\.ts$'

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: cut it with a contract the two sides share.',
      from: {},
      to: { circular: true }
    },
    {
      name: 'protocol-is-the-bottom',
      severity: 'error',
      from: { path: '^protocol/' },
      to: { path: '^(relay|client|components|react|vue|demo|test|bench)/' }
    },
    {
      name: 'relay-and-client-share-only-protocol',
      severity: 'error',
      from: { path: '^relay/' },
      to: { path: '^(client|components|react|vue|demo)/' }
    },
    {
      name: 'client-never-imports-the-relay',
      severity: 'error',
      from: { path: '^(client|components|react|vue)/' },
      to: { path: '^relay/' }
    },
    { name: 'client-below-its-bindings', severity: 'error', from: { path: '^client/' }, to: { path: '^(components|react|vue)/' } },
    {
      name: 'relay-top-imported-only-by-top',
      severity: 'error',
      comment: 'A lower module imports nothing (not even a type) from the server, the connection or the CLI.',
      from: { path: '^relay/', pathNot: relayTop },
      to: { path: relayTop }
    },
    ...relayFloors.map((floor, i) => ({
      name: `relay-${floor}-looks-down-only`,
      severity: 'error',
      from: { path: `^relay/${floor}/` },
      to: { path: `^relay/(${relayFloors.filter((_, j) => j > i).join('|')})/` }
    })),
    {
      name: 'relay-root-leaves-stay-leaves',
      severity: 'error',
      comment: 'log, limits, metrics and the small helpers at the root are imported by every floor: they import no floor.',
      from: { path: '^relay/[^/]+\\.ts$', pathNot: relayTop },
      to: { path: `^relay/(${relayFloors.join('|')})/` }
    },
    {
      name: 'store-contract-imports-no-store',
      severity: 'error',
      from: { path: '^relay/store/room-store\\.ts$' },
      to: { path: '^relay/store/(?!room-store)' }
    },
    {
      name: 'lease-contract-imports-no-table',
      severity: 'error',
      from: { path: '^relay/locks/leases\\.ts$' },
      to: { path: '^relay/locks/(?!leases\\.ts)' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.tmp)/' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs'] }
  }
}
