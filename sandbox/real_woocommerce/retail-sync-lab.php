<?php
/**
 * Plugin Name: retail-sync lab
 * Description: What a loopback test store needs and a public one does not: webhooks to loopback ports,
 * prompt (synchronous) delivery unless a test asks for WooCommerce's real asynchronous path, a way to run
 * that path's queue now, and High-Performance Order Storage switched on where the lab asks for it.
 * Installed by sandbox/real_woocommerce as a must-use plugin; never for a real shop.
 */

function retail_sync_lab_is_loopback($host) {
    return in_array($host, array('127.0.0.1', 'localhost'), true);
}

// WordPress delivers only to ports 80, 443 and 8080 on public hosts; the starter under test listens on loopback.
add_filter('http_request_host_is_external', function ($external, $host) {
    return retail_sync_lab_is_loopback($host) ? true : $external;
}, 10, 2);
add_filter('http_allowed_safe_ports', function ($ports, $host, $url) {
    $port = parse_url($url, PHP_URL_PORT);
    return retail_sync_lab_is_loopback($host) && $port ? array_merge($ports, array($port)) : $ports;
}, 10, 3);

add_filter('woocommerce_webhook_deliver_async', function ($async) {
    return get_option('retail_sync_lab_async_webhooks') === 'yes' ? $async : false;
});

add_action('init', function () {
    if (!isset($_GET['retail_sync_lab_run_queue']) || !retail_sync_lab_is_loopback($_SERVER['REMOTE_ADDR'] ?? '')) {
        return;
    }
    wp_send_json(array('actions_run' => ActionScheduler_QueueRunner::instance()->run('retail-sync-lab')));
}, 40);

add_action('init', function () {
    if (get_option('retail_sync_lab_hpos') !== 'yes' || get_option('woocommerce_custom_orders_table_enabled') === 'yes') {
        return;
    }
    $features = wc_get_container()->get(Automattic\WooCommerce\Internal\Features\FeaturesController::class);
    $features->change_feature_enable('custom_order_tables', true);
    update_option('woocommerce_custom_orders_table_data_sync_enabled', 'no');
}, 30);
