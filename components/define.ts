/**
 * Registers a custom element once, so that a page that loads the components twice (two bundles,
 * say) does not throw.
 *
 * @example
 *   define('server-counter', ServerCounter)
 */
export const define = (name: string, element: CustomElementConstructor): void => {
  if (!customElements.get(name)) customElements.define(name, element)
}
